// Numbers in text form are not read as they stand: their card digits may hide behind a
// scale or an exponent ("4111111111111111.00", "4.111111111111111e+15").

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

/** A float's integer part as digits (no exponent: "4.111111111111111e+15" hides a card). */
export function floatDigits(x: number): string {
  if (!Number.isFinite(x)) return '';
  return BigInt(Math.trunc(Math.abs(x))).toString();
}
