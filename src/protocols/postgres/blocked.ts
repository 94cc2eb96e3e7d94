// How a refused command reaches a Postgres client: the target itself raises the
// error, so the client sees a real ErrorResponse in the right place and the target's
// transaction state (aborted inside BEGIN) matches what the client believes.
import { encodeFrontend } from './messages.ts';

/** A statement that fails with `message`; safe for any message text. */
export function raiseStatement(message: string, hint?: string, code = '42501'): string {
  const lit = (s: string) => `'${s.replace(/\$warden\$/g, '').replace(/'/g, "''")}'`;
  const h = hint ? `, HINT = ${lit(hint)}` : '';
  return `DO $warden$BEGIN RAISE EXCEPTION USING MESSAGE = ${lit(message)}, ERRCODE = ${lit(code)}${h}; END$warden$`;
}

/** Replacement for a refused simple Query or FunctionCall. */
export function raiseQuery(message: string, hint?: string, code?: string): Buffer {
  return encodeFrontend({ type: 'Query', text: raiseStatement(message, hint, code) });
}

/** Replacement for a refused Execute: Parse, Bind and Execute of the raising statement. */
export function raiseExtended(name: string, message: string, hint?: string, code?: string): Buffer {
  return Buffer.concat([
    encodeFrontend({ type: 'Parse', name, text: raiseStatement(message, hint, code), paramTypes: [] }),
    encodeFrontend({ type: 'Bind', portal: name, statement: name, paramFormats: [], params: [], resultFormats: [] }),
    encodeFrontend({ type: 'Execute', portal: name, maxRows: 0 }),
  ]);
}
