// bytea's text forms: hex ("\\x3431...") and the older escape form.

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
