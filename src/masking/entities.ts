// The entity types the built-in detectors find, their labels, how strongly each wins
// an overlap, and the named groups a config may list instead of single types
// (`pii`, `secrets`, `financial`, plus Presidio's names for users coming from it).

export const BUILTIN_ENTITIES = [
  'email',
  'phone',
  'card',
  'iban',
  'ssn',
  'ip',
  'dob',
  'aws_access_key',
  'aws_secret_key',
  'api_token',
  'jwt',
  'private_key',
  'password',
  'secret',
] as const;

export type BuiltinEntity = (typeof BUILTIN_ENTITIES)[number];
/** A built-in type or the name of a custom entity from the config. */
export type Entity = BuiltinEntity | (string & {});

/** The text of a full redaction: `[EMAIL]`. Custom entities use their upper-cased name. */
export const LABELS: Record<BuiltinEntity, string> = {
  email: 'EMAIL',
  phone: 'PHONE',
  card: 'CARD',
  iban: 'IBAN',
  ssn: 'SSN',
  ip: 'IP',
  dob: 'DOB',
  aws_access_key: 'AWS_KEY',
  aws_secret_key: 'AWS_SECRET',
  api_token: 'API_TOKEN',
  jwt: 'JWT',
  private_key: 'PRIVATE_KEY',
  password: 'PASSWORD',
  secret: 'SECRET',
};

/**
 * When two findings overlap the higher priority wins: a password inside a URL beats the
 * "email" its `pass@host.com` tail looks like; a card beats the phone its digits resemble.
 */
export const PRIORITY: Record<BuiltinEntity, number> = {
  private_key: 6,
  password: 5,
  api_token: 5,
  jwt: 5,
  aws_access_key: 5,
  aws_secret_key: 5,
  secret: 4,
  card: 3,
  iban: 3,
  ssn: 3,
  email: 2,
  phone: 1,
  ip: 1,
  dob: 1,
};
export const CUSTOM_PRIORITY = 4;

export const GROUPS: Record<string, readonly BuiltinEntity[]> = {
  pii: ['email', 'phone', 'ssn', 'ip', 'dob'],
  financial: ['card', 'iban'],
  secrets: ['aws_access_key', 'aws_secret_key', 'api_token', 'jwt', 'private_key', 'password', 'secret'],
  credentials: ['aws_access_key', 'aws_secret_key', 'api_token', 'jwt', 'private_key', 'password', 'secret'],
  network: ['ip'],
  all: BUILTIN_ENTITIES,
};

/** Presidio's entity names, so a config written for it reads the same here. */
export const ALIASES: Record<string, BuiltinEntity> = {
  email_address: 'email',
  phone_number: 'phone',
  credit_card: 'card',
  iban_code: 'iban',
  us_ssn: 'ssn',
  ip_address: 'ip',
  date_of_birth: 'dob',
  crypto_key: 'private_key',
};

const BUILTIN_SET: ReadonlySet<string> = new Set(BUILTIN_ENTITIES);

export function isBuiltin(name: string): name is BuiltinEntity {
  return BUILTIN_SET.has(name);
}

/** Expand a list of types and group names; unknown names are returned separately. */
export function expandEntities(names: readonly string[]): { entities: Set<BuiltinEntity>; unknown: string[] } {
  const entities = new Set<BuiltinEntity>();
  const unknown: string[] = [];
  for (const raw of names) {
    const n = raw.toLowerCase();
    if (GROUPS[n]) for (const e of GROUPS[n]) entities.add(e);
    else if (isBuiltin(n)) entities.add(n);
    else if (ALIASES[n]) entities.add(ALIASES[n]);
    else unknown.push(raw);
  }
  return { entities, unknown };
}

/** Labels by entity, custom ones included once computed: labelOf runs for every finding. */
const labelCache = new Map<string, string>(Object.entries(LABELS));

export function labelOf(entity: Entity): string {
  let label = labelCache.get(entity);
  if (label === undefined) {
    label = entity.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    // custom entity names come from the config, so the cache stays small
    labelCache.set(entity, label);
  }
  return label;
}

export function priorityOf(entity: Entity): number {
  return isBuiltin(entity) ? PRIORITY[entity] : CUSTOM_PRIORITY;
}
