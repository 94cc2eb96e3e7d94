// Text-format values that are not read as they stand: numbers, whose card digits may hide
// behind a scale or an exponent ("4111111111111111.00", "4.111111111111111e+15"), and
// bytea, whose text form is hex ("\x3431...") or escapes.
import { floatDigits } from './binary-values.ts';

// A number token: digits, a fraction, an exponent; money's also has group commas.
const NUMBER = /-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?/g;
const MONEY = /-?\d[\d,]*(?:\.\d*)?/g;

/**
 * Each number in `s` as its integer digits, the rest kept (the braces and commas of an
 * array or a range): "{4111111111111111.00,1}" -> "{4111111111111111,1}". Money's group
 * separators go ("$4,111,111,111,111,111.00" -> "$4111111111111111").
 */
export function integerDigitsOf(s: string, money: boolean): string {
  return s.replace(money ? MONEY : NUMBER, (m) => {
    if (!money && (m.includes('e') || m.includes('E'))) return floatDigits(Number(m)); // float8: "4.111111111111111e+15"
    const dot = m.indexOf('.');
    const int = (dot < 0 ? m : m.slice(0, dot)).replace('-', ''); // "-4111...": the sign is no part of the card
    return money ? int.replace(/,/g, '') : int;
  });
}

/** The bytes of a bytea in text form (hex "\x..." or the escape form), read as latin1 text. */
export function byteaText(s: string): string {
  if (s.startsWith('\\x')) return Buffer.from(s.slice(2), 'hex').toString('latin1');
  // escape form: "\\" is a backslash, "\ooo" an octal byte, the rest as is
  return s.replace(/\\(\\|[0-7]{3})/g, (_, e: string) => (e === '\\' ? '\\' : String.fromCharCode(parseInt(e, 8))));
}

/** latin1 text as a bytea in hex text form, which every client reads whatever bytea_output says. */
export function byteaHex(text: string): string {
  return '\\x' + Buffer.from(text, 'latin1').toString('hex');
}
