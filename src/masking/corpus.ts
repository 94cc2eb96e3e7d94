// Labelled sample data for the masking tests and `bench:mask`: thousands of valid values
// of each type (real checksums), planted in realistic surroundings, and look-alikes that
// must stay untouched (Luhn-invalid numbers, order ids, timestamps, UUIDs, versions, git
// SHAs...). Deterministic: a seeded PRNG, so a failure reproduces.
import { IBAN_LENGTHS } from './detectors/checksums.ts';
import type { BuiltinEntity } from './entities.ts';

export interface Span {
  start: number;
  end: number;
  entity: BuiltinEntity;
}
export interface Sample {
  text: string;
  spans: Span[];
}

/** mulberry32: small, fast, good enough for test data. */
export class Rng {
  constructor(private s: number) {}
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.next() * a.length)];
  }
  chars(set: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += set[Math.floor(this.next() * set.length)];
    return s;
  }
  digits(n: number): string {
    return this.chars('0123456789', n);
  }
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64 = `${ALNUM}+/`;
const B64URL = `${ALNUM}-_`;
const FIRST = ['john', 'maria', 'wei', 'fatima', 'olga', 'james', 'aiko', 'carlos', 'priya', 'lars', 'noah', 'emma'];
const LAST = ['smith', 'garcia', 'chen', 'khan', 'ivanova', 'brown', 'tanaka', 'silva', 'patel', 'berg', 'miller', 'dubois'];
const DOMAINS = ['example.com', 'mail.example.org', 'acme.co.uk', 'corp.example.io', 'uni.example.de', 'startup.dev', 'gmail.com'];
const WORDS = 'the customer asked about delivery of order on tuesday please refund shipped late invoice attached thanks regards account updated meeting notes follow up with team'.split(' ');

export function luhnComplete(body: string): string {
  for (let d = 0; d <= 9; d++) {
    const s = body + d;
    let sum = 0;
    for (let i = 0; i < s.length; i++) {
      let v = s.charCodeAt(s.length - 1 - i) - 48;
      if (i % 2 === 1) {
        v *= 2;
        if (v > 9) v -= 9;
      }
      sum += v;
    }
    if (sum % 10 === 0) return s;
  }
  throw new Error('unreachable');
}

export function mod97(s: string): number {
  let r = 0;
  for (const ch of s) r = /\d/.test(ch) ? (r * 10 + Number(ch)) % 97 : (r * 100 + ch.charCodeAt(0) - 55) % 97;
  return r;
}

const gen: Record<BuiltinEntity, (r: Rng) => string> = {
  email: (r) => `${r.pick(FIRST)}${r.pick(['.', '_', '', '+news.'])}${r.pick(LAST)}${r.int(0, 3) ? '' : r.int(1, 99)}@${r.pick(DOMAINS)}`,
  phone: (r) => {
    const area = `${r.int(2, 9)}${r.digits(2)}`;
    const exch = `${r.int(2, 9)}${r.digits(2)}`;
    const line = r.digits(4);
    return r.pick([
      () => `+1 (${area}) ${exch}-${line}`,
      () => `+1${area}${exch}${line}`,
      () => `(${area}) ${exch}-${line}`,
      () => `${area}-${exch}-${line}`,
      () => `${area}.${exch}.${line}`,
      () => `+44 20 ${r.digits(4)} ${r.digits(4)}`,
      () => `+49 30 ${r.digits(7)}`,
      () => `+33 1 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
      () => `020 ${r.digits(4)} ${r.digits(4)}`,
      () => `07700 ${r.digits(6)}`,
      () => `01 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
      () => `+91 ${r.int(6, 9)}${r.digits(4)} ${r.digits(5)}`,
    ])();
  },
  card: (r) => {
    const [prefix, len] = r.pick([['4', 16], ['51', 16], ['55', 16], ['2221', 16], ['34', 15], ['37', 15], ['6011', 16], ['65', 16], ['3530', 16], ['4', 19], ['62', 16]] as const);
    const d = luhnComplete(prefix + r.digits(len - prefix.length - 1));
    const style = r.int(0, 2);
    if (style === 0) return d;
    const sep = style === 1 ? ' ' : '-';
    if (len === 15) return `${d.slice(0, 4)}${sep}${d.slice(4, 10)}${sep}${d.slice(10)}`;
    return d.match(/.{1,4}/g)!.join(sep);
  },
  iban: (r) => {
    const cc = r.pick(['DE', 'GB', 'FR', 'NL', 'ES', 'IT', 'CH', 'BE', 'PL', 'SE']);
    const n = IBAN_LENGTHS[cc] - 4;
    const bban = cc === 'GB' || cc === 'NL' ? r.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 4) + r.digits(n - 4) : cc === 'IT' ? r.chars('ABCDEFGHIJ', 1) + r.digits(n - 1) : r.digits(n);
    const check = String(98 - mod97(bban + cc + '00')).padStart(2, '0');
    const iban = cc + check + bban;
    return r.int(0, 1) ? iban : iban.match(/.{1,4}/g)!.join(' ');
  },
  ssn: (r) => {
    let area = r.int(1, 899);
    if (area === 666) area = 665;
    return `${String(area).padStart(3, '0')}${r.pick(['-', ' '])}${String(r.int(1, 99)).padStart(2, '0')}-${String(r.int(1, 9999)).padStart(4, '0')}`.replace(/^(\d{3}) (\d{2})-/, '$1 $2 ');
  },
  ip: (r) =>
    r.int(0, 2)
      ? `${r.pick([r.int(1, 126), r.int(128, 254)])}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}` // 127/8 is loopback, not masked
      : r.int(0, 1)
        ? Array.from({ length: 8 }, () => r.int(0, 0xffff).toString(16)).join(':')
        : `2001:db8:${r.int(1, 0xffff).toString(16)}::${r.int(1, 0xfff).toString(16)}`,
  dob: (r) => `${r.int(1940, 2010)}-${String(r.int(1, 12)).padStart(2, '0')}-${String(r.int(1, 28)).padStart(2, '0')}`,
  aws_access_key: (r) => r.pick(['AKIA', 'ASIA']) + r.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16),
  aws_secret_key: (r) => {
    for (;;) {
      const s = r.chars(B64, 40);
      if (/[A-Z]/.test(s) && /[a-z]/.test(s) && /\d/.test(s)) return s;
    }
  },
  api_token: (r) =>
    r.pick([
      () => `${r.pick(['ghp_', 'gho_', 'ghs_'])}${r.chars(ALNUM, 36)}`,
      () => `github_pat_${r.chars(ALNUM, 22)}_${r.chars(ALNUM, 59)}`,
      () => `glpat-${r.chars(`${ALNUM}-_`, 20)}`,
      () => `xoxb-${r.digits(12)}-${r.digits(13)}-${r.chars(ALNUM, 24)}`,
      () => `sk_live_${r.chars(ALNUM, 24)}`,
      () => `rk_test_${r.chars(ALNUM, 24)}`,
      () => `AIza${r.chars(`${ALNUM}-_`, 35)}`,
      () => `sk-proj-${r.chars(`${ALNUM}-_`, 48)}`,
      () => `sk-${r.chars(ALNUM, 48)}`,
      () => `sk-ant-api03-${r.chars(`${ALNUM}-_`, 93)}AA`,
    ])(),
  jwt: (r) => {
    const b = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${b({ alg: r.pick(['HS256', 'RS256', 'ES256']), typ: 'JWT' })}.${b({ sub: r.digits(8), name: r.pick(FIRST), iat: r.int(1.6e9, 1.8e9) })}.${r.chars(B64URL, 43)}`;
  },
  private_key: (r) => {
    const kind = r.pick(['RSA ', 'EC ', 'OPENSSH ', '']);
    const lines = Array.from({ length: r.int(3, 25) }, () => r.chars(B64, 64));
    return `-----BEGIN ${kind}PRIVATE KEY-----\n${lines.join('\n')}\n-----END ${kind}PRIVATE KEY-----`;
  },
  password: (r) => r.chars(`${ALNUM}!#%^*`, r.int(6, 20)),
  secret: (r) => r.chars(`${ALNUM}`, r.int(16, 40)) + r.digits(2),
};

export function generate(entity: BuiltinEntity, r: Rng): string {
  return gen[entity](r);
}

function sentence(r: Rng, n: number): string {
  return Array.from({ length: n }, () => r.pick(WORDS)).join(' ');
}

/** Where a value of each type appears: a template with {} for it (and the entity it stands for). */
const CONTEXTS: Partial<Record<BuiltinEntity, string[]>> = {
  dob: ['DOB: {}', 'date of birth {}', '"birth_date": "{}"', 'born on {}'],
  aws_secret_key: ['aws_secret_access_key = {}', 'AWS_SECRET_ACCESS_KEY={}'],
  password: [
    'postgres://app:{}@db.internal:5432/app', 'host=db user=app password={} dbname=app', '{"password": "{}"}', 'mysql://root:{}@mysql.internal/db', 'DB_PASSWORD={}',
    // the keyword inside a longer identifier, in each naming style
    'PGPASSWORD={}', 'MYSQL_ROOT_PASSWORD: {}', 'spring.datasource.password={}', '--password={}', '{"dbPassword": "{}"}', 'redis-password: {}',
  ],
  secret: [
    'api_key={}', 'client_secret: {}', '"apiKey": "{}"', 'Authorization: Bearer {}', 'Authorization: Basic {}', 'X-Api-Key: {}', 'token={}', 'SECRET_KEY_BASE={}', 'refresh_token: {}',
    'export GITHUB_TOKEN="{}"', 'stripe_api_key: {}', '"clientSecret": "{}"', 'app.jwtSigningKey = {}', 'webhookSecret: {}', 'accessToken={}',
  ],
};
const GENERIC = ['{}', '17,{},active', '2024-01-15,{},shipped', 'note: {} ', 'contact {} today', '"value": "{}",', '{}\t42\ttrue', 'customer {} asked about {w}', '{w} ({}) {w}'];

/** One labelled positive sample of `entity`. */
export function positive(entity: BuiltinEntity, r: Rng): Sample {
  const value = generate(entity, r);
  let tpl = r.pick(CONTEXTS[entity] ?? GENERIC).replace(/\{w\}/g, () => sentence(r, 3));
  let prefix = '';
  if (entity === 'aws_access_key' && r.int(0, 1)) tpl = `key id {} created`;
  if (entity === 'aws_secret_key' && r.int(0, 1)) {
    prefix = `${generate('aws_access_key', r)},`;
    tpl = '{},2024-01-01';
  }
  const at = prefix.length + tpl.indexOf('{}');
  const text = prefix + tpl.replace('{}', value);
  const spans: Span[] = [{ start: at, end: at + value.length, entity }];
  if (prefix) spans.push({ start: 0, end: prefix.length - 1, entity: 'aws_access_key' });
  return { text, spans };
}

/** Values that look like an entity and are not one. */
export function lookalike(r: Rng): string {
  return r.pick<() => string>([
    () => {
      // a Luhn-invalid 16-digit number with a real issuer prefix
      const d = luhnComplete(`4${r.digits(14)}`);
      return d.slice(0, 15) + ((Number(d[15]) + r.int(1, 9)) % 10);
    },
    () => `ORD-${r.int(2019, 2025)}-${r.digits(6)}`,
    () => `order #${r.digits(r.int(5, 12))}`,
    () => `${r.int(2019, 2025)}-${String(r.int(1, 12)).padStart(2, '0')}-${String(r.int(1, 28)).padStart(2, '0')} ${String(r.int(0, 23)).padStart(2, '0')}:${r.int(10, 59)}:${r.int(10, 59)}`,
    () => new Date(r.int(1.5e12, 1.8e12)).toISOString(),
    () => String(r.int(1.5e9, 1.8e9)),
    () => String(r.int(1.5e12, 1.8e12)),
    () => [8, 4, 4, 4, 12].map((n) => r.chars('0123456789abcdef', n)).join('-'),
    () => `v${r.int(0, 20)}.${r.int(0, 30)}.${r.int(0, 99)}`,
    () => `${r.int(1, 12)}.${r.int(0, 9)}.${r.int(0, 9)}-beta.${r.int(1, 9)}`,
    () => `commit ${r.chars('0123456789abcdef', 40)}`,
    () => `merged ${r.chars('0123456789abcdef', 7)} into main`,
    () => `$${r.int(1, 999)},${r.digits(3)}.${r.digits(2)}`,
    () => `${r.int(10000, 99999)}-${r.digits(4)}`,
    () => `${String(r.int(1, 28)).padStart(2, '0')}/${String(r.int(1, 12)).padStart(2, '0')}/${r.int(2019, 2025)}`,
    () => `icon@2x.png`,
    () => `${r.pick(FIRST)}@localhost`,
    () => `SELECT * FROM orders WHERE id = ${r.digits(6)}`,
    () => `token: expired`,
    () => `password: ********`,
    () => `passwordless: true`,
    () => `${r.chars('0123456789abcdef', 2)}:${r.chars('0123456789abcdef', 2)}:${r.chars('0123456789abcdef', 2)}:${r.chars('0123456789abcdef', 2)}:${r.chars('0123456789abcdef', 2)}:${r.chars('0123456789abcdef', 2)}`,
    () => `${r.int(0, 23)}:${r.int(10, 59)}:${r.int(10, 59)}.${r.digits(6)}`,
    () => `${r.int(1, 999)},${r.digits(3)},${r.digits(3)},${r.digits(3)}`,
    () => `app-${r.chars('0123456789abcdef', 9)}-${r.chars('abcdefghijklmnopqrstuvwxyz0123456789', 5)}`,
    () => `build ${r.int(2019, 2025)}${r.digits(4)}.${r.int(1, 9)}`,
    () => `DE89 3704 0044 0532 0130 0${r.int(1, 9)}`,
    () => `${r.pick(['000', '666', '912'])}-${r.digits(2)}-${r.digits(4)}`,
    () => `ISBN 978-${r.int(0, 9)}-${r.digits(2)}-${r.digits(6)}-${r.int(0, 9)}`,
    () => `#${r.chars('0123456789abcdef', 6)}`,
    () => sentence(r, r.int(5, 15)),
    () => `${r.pick(FIRST)} ${r.pick(LAST)}`,
    () => `std::vector<int> and Foo::Bar`,
    () => `internationalization localization`,
    () => `tracking ${r.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 2)}${r.digits(9)}${r.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 2)}`,
    () => `qty ${r.int(1, 99)} x ${r.digits(4)} @ ${r.int(1, 99)}.99`,
    () => `sha256:${r.chars('0123456789abcdef', 64)}`,
    // Harder ones, where the detectors do err: any 16-digit reference (one in ten passes Luhn),
    // four-part version numbers (read as IPv4), base64 digests, keyword look-alikes.
    () => `ref ${r.digits(16)}`,
    () => `version ${r.int(1, 9)}.${r.int(0, 9)}.${r.int(0, 9)}.${r.int(0, 9)}`,
    () => `digest: ${r.chars(B64, 40)}`,
    () => `password_updated_at: ${r.int(2019, 2025)}-0${r.int(1, 9)}-1${r.int(0, 9)} 10:00:00`,
    () => `token_count: ${r.digits(8)}`,
    () => `the secret ingredient is ${r.pick(WORDS)}`,
    () => r.pick(['auth_method=scram-sha-256', 'token_type: bearer', 'secret_santa: Maria2024', 'auth: ok', 'tokens: 8192', 'author: J. R. R. Tolkien']),
    // keyword words inside longer identifiers that name no secret, or hold none
    () => `${r.pick(['password_reset_sent_at = ', 'passwordResetSentAt: ', 'PASSWORD_CHANGED_AT='])}${r.int(2019, 2025)}-0${r.int(1, 9)}-1${r.int(0, 9)}`,
    () => `${r.pick(['token_count: ', 'max_tokens=', 'inputTokens: ', 'api_key_id=', 'apiKeyId: ', 'password_min_length=', 'tokenExpiresAt='])}${r.int(1, 99999)}`,
    () => r.pick(['secretary=Jane', 'keyboard=us', 'passwordless=true', 'tokenizer=bpe', 'PASSWORD_HASH_ALGO=argon2id', 'password_file=/run/secrets/db', 'PWD=/home/app', 'primaryKey=id', 'secret_name=db-creds']),
    // No context word to go by: the residual error the validators cannot remove.
    () => `2024-01-${r.int(10, 28)},${r.digits(16)},shipped`,
    () => `libfoo ${r.int(1, 9)}.${r.int(0, 9)}.${r.int(0, 9)}.${r.int(0, 9)}`,
  ])();
}
