// Credentials recognisable by their shape: vendor API tokens with fixed prefixes (GitHub,
// GitLab, Slack, Stripe, Google, OpenAI, Anthropic), AWS access key ids (and the secret
// key printed next to one), JWTs (header decoded and checked) and PEM private keys.
// One regex finds every known prefix; the prefix then picks the validator.
import type { Findings } from '../findings.ts';
import { nextMatch } from './next-match.ts';

const PREFIXED =
  /(?<![A-Za-z0-9_-])(?:gh[pousr]_|github_pat_|gl(?:pat|oas|dt|rt|ptt|cbt|soat|ft|imt)-|xox[abeprs]-|xapp-|(?:sk|rk)_(?:live|test)_|whsec_|AIza|ya29\.|GOCSPX-|sk-|A(?:KIA|SIA|BIA|CCA)|eyJ)[A-Za-z0-9_.-]{8,}/g;

interface TokenShape {
  re: RegExp;
  entity: 'api_token' | 'aws_access_key';
}

// Anchored full shapes; the first that matches the candidate's start decides its length.
const SHAPES: TokenShape[] = [
  { re: /^gh[pousr]_[A-Za-z0-9]{36,251}/, entity: 'api_token' },
  { re: /^github_pat_[A-Za-z0-9_]{70,}/, entity: 'api_token' },
  { re: /^gl(?:pat|oas|dt|rt|ptt|cbt|soat|ft|imt)-[A-Za-z0-9_-]{20,}/, entity: 'api_token' },
  { re: /^xox[abeprs]-[A-Za-z0-9-]{10,}/, entity: 'api_token' },
  { re: /^xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+/, entity: 'api_token' },
  { re: /^(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/, entity: 'api_token' },
  { re: /^whsec_[A-Za-z0-9+/=]{24,}/, entity: 'api_token' },
  { re: /^AIza[0-9A-Za-z_-]{35}/, entity: 'api_token' },
  { re: /^ya29\.[0-9A-Za-z_-]{20,}/, entity: 'api_token' },
  { re: /^GOCSPX-[A-Za-z0-9_-]{24,}/, entity: 'api_token' },
  { re: /^sk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_-]{40,}/, entity: 'api_token' },
  { re: /^sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}/, entity: 'api_token' },
  { re: /^A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])/, entity: 'aws_access_key' },
];

const JWT = /^eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/;
/** A 40-character base64 string, the shape of an AWS secret access key. */
const AWS_SECRET = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
/** How far after an access key id its secret key may be printed (CSV row, config block). */
const AWS_PAIR_WINDOW = 200;

function jwtHeaderValid(h: string): boolean {
  try {
    const json = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as unknown;
    return typeof json === 'object' && json !== null && ('alg' in json || 'typ' in json);
  } catch {
    return false;
  }
}

export function detectTokens(s: string, out: Findings): void {
  PREFIXED.lastIndex = 0;
  // 11 characters at least: the shortest prefix ("sk-") and 8 more
  for (let m = nextMatch(PREFIXED, s, 11); m; m = nextMatch(PREFIXED, s, 11)) {
    const cand = m[0];
    const at = m.index;
    if (cand.startsWith('eyJ')) {
      const j = JWT.exec(cand);
      if (j && jwtHeaderValid(j[0].slice(0, j[0].indexOf('.')))) out.push(at, at + j[0].length, 'jwt');
      continue;
    }
    for (const shape of SHAPES) {
      const t = shape.re.exec(cand);
      if (!t) continue;
      out.push(at, at + t[0].length, shape.entity);
      if (shape.entity === 'aws_access_key') awsSecretNear(s, at + t[0].length, out);
      break;
    }
  }
}

function awsSecretNear(s: string, from: number, out: Findings): void {
  AWS_SECRET.lastIndex = from;
  const m = AWS_SECRET.exec(s);
  if (m && m.index - from <= AWS_PAIR_WINDOW && /[A-Z]/.test(m[0]) && /[a-z]/.test(m[0]) && /\d/.test(m[0])) {
    out.push(m.index, m.index + 40, 'aws_secret_key');
  }
}

const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----/g;

/** PEM private keys, header to footer; an unterminated one is masked to the end of the text. */
export function detectPem(s: string, out: Findings): void {
  PEM_BEGIN.lastIndex = 0;
  for (let m = PEM_BEGIN.exec(s); m; m = PEM_BEGIN.exec(s)) {
    const endTag = `-----END ${m[1]}PRIVATE KEY${m[2] ?? ''}-----`;
    const e = s.indexOf(endTag, m.index + m[0].length);
    const end = e === -1 ? s.length : e + endTag.length;
    out.push(m.index, end, 'private_key');
    PEM_BEGIN.lastIndex = end;
  }
}
