// Values the server echoes in an error. A data exception (SQLSTATE class 22) quotes the
// value it could not read, and an integrity violation (class 23) lists the key or the row
// it refused:
//   SELECT password_hash::int FROM users  ->  invalid input syntax for type integer: "$2b$12$..."
//   INSERT ... (duplicate)                ->  Key (email)=(ann@example.com) already exists.
// A column rule cannot reach these (an error has no columns) and the detectors know only
// the shapes they know, so a caller could read any masked column one error at a time.
// Fail closed: with masking on, the echoed value is replaced whole, whichever column it
// came from. The message keeps its shape, so a person still sees what went wrong.
import { ECHOED_VALUE as ECHOED } from '../../masking/index.ts';

const QUOTED = /"[^]*"/; // from the first double quote to the last one (values may hold quotes)
const KEY = /^(Key \(.*?\)=\()[^]*\)/; // Key (cols)=(values) ... — up to the last ')'
const ROW = /^(Failing row contains )\([^]*\)/;

/** The fields of an ErrorResponse/NoticeResponse with echoed values replaced; the same object when nothing is. */
export function withoutEchoedValues(fields: Record<string, string>): Record<string, string> {
  const cls = fields.C?.slice(0, 2);
  if (cls !== '22' && cls !== '23') return fields;
  const out = { ...fields };
  if (cls === '22') {
    // The message and the detail quote the value (`Token "x" is invalid.`); the type it was
    // read as is never quoted.
    for (const k of ['M', 'D'] as const) if (out[k] !== undefined) out[k] = out[k]!.replace(QUOTED, `"${ECHOED}"`);
  }
  // Class 23's message names a constraint, not a value; its detail carries the values.
  if (out.D !== undefined) out.D = out.D.replace(KEY, `$1${ECHOED})`).replace(ROW, `$1(${ECHOED})`);
  return out;
}
