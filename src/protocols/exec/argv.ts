// An argv as one line for records, reviews and the console: each word as a POSIX shell would
// need it quoted, so the line reads back to exactly these words (`a b` and `'a b'` differ).
// Nothing runs it through a shell: it is only how the command is shown.

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function displayArgv(argv: readonly string[]): string {
  return argv.map((a) => (PLAIN.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
