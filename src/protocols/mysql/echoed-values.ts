// Values the server echoes in an error (the MySQL side of postgres/echoed-values.ts):
//   SELECT code + 0 FROM vault (strict)  ->  Truncated incorrect DOUBLE value: '<value>'
//   INSERT ... SELECT code (duplicate)   ->  Duplicate entry '<value>' for key 'code'
// A column rule cannot reach an error, so with masking on the echoed value is replaced
// whole, whichever column it came from; the message keeps its shape.
import { ECHOED_VALUE as ECHOED } from '../../masking/index.ts';

/** Error numbers whose message quotes a value read from the data. */
const ECHOING = new Set([
  1062, // ER_DUP_ENTRY: Duplicate entry '%s' for key '%s'
  1292, // ER_TRUNCATED_WRONG_VALUE: Truncated incorrect %s value: '%s'
  1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: Incorrect %s value: '%s' for column %s at row %d
  1367, // ER_ILLEGAL_VALUE_FOR_TYPE: Illegal %s '%s' value found during parsing
  1411, // ER_WRONG_VALUE_FOR_TYPE: Incorrect %s value: '%s' for function %s
  1525, // ER_WRONG_VALUE: Incorrect %s value: '%s'
  1586, // ER_DUP_ENTRY_WITH_KEY_NAME: Duplicate entry '%s' for key '%s'
]);

// What follows the value, anchored at the end of the message (the value itself may hold
// quotes and these very words: the value is what lies between the first quote and these).
const TAILS = [/'( for key '[^']*')$/, /'( for column .*? at row \d+)$/, /'( for function \w+)$/, /'( value found during parsing)$/, /'()$/];

/** The message with an echoed value replaced; the same string when the error echoes none. */
export function withoutEchoedValue(code: number, message: string): string {
  if (!ECHOING.has(code)) return message;
  const open = message.indexOf("'");
  if (open < 0) return message;
  for (const tail of TAILS) {
    const m = tail.exec(message);
    if (m && m.index > open) return `${message.slice(0, open + 1)}${ECHOED}'${m[1]}`;
  }
  // A shape not known: everything from the first quote on is the value, as far as we know.
  return `${message.slice(0, open + 1)}${ECHOED}'`;
}
