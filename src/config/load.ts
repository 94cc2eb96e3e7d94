// Reads warden.yaml: parse YAML, resolve ${env:NAME} / ${file:PATH} secret references,
// validate against the schema, and report every problem with its key path.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve, isAbsolute } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type WardenConfig } from './schema.ts';
import { ConfigError } from './errors.ts';

export { ConfigError };

const REF = /\$\{(env|file):([^}]+)\}/g;

/** Replace secret references in every string of the tree; unresolved ones are problems, named by key path. */
export function resolveRefs(value: unknown, baseDir: string, env: NodeJS.ProcessEnv, problems: string[], path: (string | number)[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(REF, (_m, kind: string, arg: string) => {
      const where = path.join('.') || '(root)';
      if (kind === 'env') {
        const v = env[arg];
        if (v === undefined) {
          problems.push(`${where}: environment variable ${arg} is not set`);
          return '';
        }
        return v;
      }
      const file = isAbsolute(arg) ? arg : resolve(baseDir, arg);
      try {
        return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        problems.push(`${where}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        return '';
      }
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveRefs(v, baseDir, env, problems, [...path, i]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveRefs(v, baseDir, env, problems, [...path, k]);
    return out;
  }
  return value;
}

export function formatIssues(issues: z.core.$ZodIssue[], raw: unknown): string[] {
  return issues.map((i) => {
    const path = i.path.map(String).join('.') || '(root)';
    let got = '';
    if (i.code !== 'unrecognized_keys') {
      const v = i.path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined), raw);
      // Never echo a value under a key that looks secret, nor anything of a connection's credential,
      // nor a URL with a user or password in it.
      const userinfo = typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]*@/i.test(v);
      if (v !== undefined && typeof v !== 'object' && !userinfo && !/pass|secret|token|key|credential/i.test(path)) got = ` (got ${JSON.stringify(v)})`;
    }
    return `${path}: ${i.message}${got}`;
  });
}

/** Validate an already-parsed object (used by tests and by `loadConfig`). */
export function parseConfig(raw: unknown, source = '(inline)', baseDir = process.cwd(), env = process.env): WardenConfig {
  const problems: string[] = [];
  const resolved = resolveRefs(raw ?? {}, baseDir, env, problems);
  const result = configSchema.safeParse(resolved);
  if (!result.success) problems.push(...formatIssues(result.error.issues, resolved));
  if (problems.length) throw new ConfigError(source, problems);
  const cfg = result.data!;
  if (!isAbsolute(cfg.gateway.dataDir)) cfg.gateway.dataDir = resolve(baseDir, cfg.gateway.dataDir);
  // Audit sink directories and the pinned key file, like the data dir, are relative to the config file.
  const audit = cfg.gateway.audit;
  for (const s of audit.sinks) if ('dir' in s && !isAbsolute(s.dir)) s.dir = resolve(baseDir, s.dir);
  if (audit.publicKey && !audit.publicKey.includes('-----BEGIN') && !isAbsolute(audit.publicKey)) audit.publicKey = resolve(baseDir, audit.publicKey);
  return cfg;
}

/** Load warden.yaml (or the defaults when `file` is undefined and ./warden.yaml does not exist). */
export function loadConfig(file?: string, env = process.env): { config: WardenConfig; source: string } {
  const path = file ?? (existsSync('warden.yaml') ? 'warden.yaml' : undefined);
  if (!path) return { config: parseConfig({}, '(defaults)', process.cwd(), env), source: '(defaults)' };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [`cannot read file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new ConfigError(path, doc.errors.map((e) => `YAML ${e.message.split('\n')[0]}`));
  return { config: parseConfig(doc.toJS(), path, dirname(resolve(path)), env), source: path };
}
