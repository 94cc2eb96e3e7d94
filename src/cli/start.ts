// `warden start`: run the gateway in the foreground until Ctrl-C.
// The gateway is imported when the command runs, not when the CLI starts (lazy: see main.ts).
import type { Command } from 'commander';
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the gateway (embedded default: SQLite store in ./warden-data, demo database when no connection is configured)')
    .option('-c, --config <file>', 'config file (default: ./warden.yaml when present)')
    .option('--demo', 'also serve the demo Postgres database (PGlite) as connection "demo"')
    .action(async (opts: { config?: string; demo?: boolean }) => {
      const [{ loadConfig }, { startGateway }] = await Promise.all([import('../config/load.ts'), import('../gateway/gateway.ts')]);
      const { config, source } = loadConfig(opts.config);
      const gw = await startGateway(config, { demo: opts.demo });
      const pg = gw.postgres;
      const lines = [
        `Warden gateway ready (config: ${source}, store: ${config.gateway.store === 'sqlite' ? `${config.gateway.dataDir}/warden.db` : 'postgres'}, recording: ${config.gateway.recording.mode})`,
        `  HTTP API   ${gw.httpUrl}/api/v1   (health ${gw.httpUrl}/healthz, metrics ${gw.httpUrl}/metrics)`,
        `  Console    ${gw.httpUrl}/   (web console: reviews, session replay, audit; log in with an admin token)`,
      ];
      if (pg) lines.push(`  Postgres   ${pg.host}:${pg.port}   (user = connection name, password = access token)`);
      if (gw.mysql) lines.push(`  MySQL      ${gw.mysql.host}:${gw.mysql.port}   (mysql -h ${gw.mysql.host} -P ${gw.mysql.port} -u <connection name> -p<access token>)`);
      lines.push(`  Connections: ${gw.services.connectionsFor(null).map((c) => c.name).join(', ') || '(none)'}`);
      if (gw.bootstrapToken) {
        lines.push('', 'First start: an admin token was created. It is shown only this once; keep it:', `  ${gw.bootstrapToken}`);
      }
      const { connectLines } = await import('./connect-lines.ts');
      lines.push(...connectLines({ config: opts.config, ...(pg ? { pg } : {}), httpUrl: gw.httpUrl, demo: gw.demo !== null, groups: config.connections.flatMap((c) => c.access.groups) }));
      console.log(lines.join('\n'));
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        gw.log.info({ signal }, 'shutting down');
        await gw.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
