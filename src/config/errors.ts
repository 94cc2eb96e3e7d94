// A config mistake, with every problem named by its key path. Apart from the loader so
// that the CLI can recognise one without loading YAML and the schema (cli/main.ts).
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
