// A Postgres server model for the relay fuzz: statements, portals, the skip-to-Sync after
// an error, implicit and explicit transactions, as the real server keeps them (small
// vocabulary of statements). It is the ground truth: every Parse and every statement it
// runs is checked against what the spy policy judged. `hostile` mutates its replies
// (a broken or lying target): then only the robustness properties hold.
import { FrameSplitter } from '../src/protocols/postgres/frames.ts';
import { ProtocolError } from '../src/protocols/postgres/buffers.ts';
import { decodeFrontend, encodeBackend, fatalResponse, type BackendMessage } from '../src/protocols/postgres/messages.ts';
import { Finding } from './codec.ts';
import type { Rng } from './rng.ts';
import { mutate } from './mutate.ts';

/** What the policy spy saw: texts checked at Parse, texts judged and allowed to run. */
export interface Judged {
  checked: Set<string>;
  allowed: Set<string>;
}

const isWardenOwn = (text: string) => text.startsWith('DO $warden$') || text === 'SELECT pg_catalog.current_schemas(true)';

export class MockServer {
  private readonly split = new FrameSplitter(1 << 30);
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, string>();
  private explicit = false;
  private aborted = false;
  private skipping = false;
  /** statements run, in order (for the report of a finding) */
  readonly ran: string[] = [];

  constructor(
    private readonly judged: Judged,
    private readonly reply: (b: Buffer) => void,
    private readonly hostile: Rng | null,
  ) {}

  private get status(): 'I' | 'T' | 'E' {
    return this.aborted ? 'E' : this.explicit ? 'T' : 'I';
  }

  /** Set once the server ended the session (a message it cannot read: FATAL, as Postgres does). */
  gone = false;
  /** ReadyForQuery messages sent: the client must get as many */
  readySent = 0;

  receive(chunk: Buffer): void {
    if (this.gone) return;
    const out: BackendMessage[] = [];
    try {
      this.split.push(chunk, (type, buf, s, e) => this.message(type, buf, s, e, out));
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.gone = true;
      this.reply(Buffer.concat([...out.map((m) => encodeBackend(m)), fatalResponse('08P01', e.message)]));
      return;
    }
    if (out.length === 0) return;
    this.readySent += out.filter((m) => m.type === 'ReadyForQuery').length;
    let frames = out.map((m) => encodeBackend(m));
    if (this.hostile && this.hostile.chance(0.3)) frames = mutate(frames, this.hostile, this.hostile.range(1, 3));
    this.reply(Buffer.concat(frames));
  }

  private fail(out: BackendMessage[], code: string, message: string): void {
    out.push({ type: 'ErrorResponse', fields: { S: 'ERROR', C: code, M: message } });
    this.skipping = true;
    if (this.explicit) this.aborted = true;
  }

  /** Run one statement's text (Query or Execute); false when it failed. */
  private run(text: string, out: BackendMessage[], withRowDescription: boolean): boolean {
    if (!isWardenOwn(text) && !this.judged.allowed.has(text)) throw new Finding(`the server ran ${JSON.stringify(text)}, which the policy never allowed`);
    this.ran.push(text);
    const upper = text.trim().toUpperCase();
    if (this.aborted && upper !== 'ROLLBACK' && upper !== 'COMMIT') {
      this.fail(out, '25P02', 'current transaction is aborted');
      return false;
    }
    if (text.startsWith('DO $warden$')) {
      this.fail(out, '42501', 'refused');
      return false;
    }
    if (upper === '') {
      out.push({ type: 'EmptyQueryResponse' });
      return true;
    }
    if (upper.startsWith('SELEC') && !upper.startsWith('SELECT')) {
      this.fail(out, '42601', 'syntax error');
      return false;
    }
    if (upper === 'BEGIN') this.explicit = true;
    if (upper === 'COMMIT' || upper === 'ROLLBACK') {
      this.explicit = this.aborted = false;
      this.portals.clear();
    }
    if (upper.startsWith('SELECT')) {
      if (withRowDescription) out.push({ type: 'RowDescription', fields: [{ name: 'x', tableOid: 0, column: 0, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 }] });
      const v = text === 'SELECT pg_catalog.current_schemas(true)' ? '{public}' : text.includes('2') ? 'ann@example.com' : 'v';
      out.push({ type: 'DataRow', values: [Buffer.from(v)] });
      out.push({ type: 'CommandComplete', tag: 'SELECT 1' });
    } else out.push({ type: 'CommandComplete', tag: upper.split(' ')[0]! });
    return true;
  }

  private endImplicit(): void {
    if (!this.explicit) this.portals.clear();
  }

  private message(type: number, buf: Buffer, s: number, e: number, out: BackendMessage[]): void {
    if (this.gone) return;
    const m = decodeFrontend(type, buf, s, e);
    if (this.skipping && m.type !== 'Sync') return;
    switch (m.type) {
      case 'Query': {
        this.statements.delete('');
        this.portals.delete('');
        const ok = this.run(m.text, out, true);
        if (!ok) this.skipping = false; // a simple query's error ends at its ReadyForQuery
        this.endImplicit();
        out.push({ type: 'ReadyForQuery', status: this.status });
        return;
      }
      case 'Parse': {
        if (!isWardenOwn(m.text) && !this.judged.checked.has(m.text)) throw new Finding(`the server parsed ${JSON.stringify(m.text)}, which was never checked`);
        if (m.name === '') this.statements.delete('');
        if (m.name !== '' && this.statements.has(m.name)) return this.fail(out, '42P05', `prepared statement "${m.name}" already exists`);
        const upper = m.text.trim().toUpperCase();
        if (this.aborted && upper !== 'ROLLBACK' && upper !== 'COMMIT') return this.fail(out, '25P02', 'current transaction is aborted');
        if (upper.startsWith('SELEC') && !upper.startsWith('SELECT')) return this.fail(out, '42601', 'syntax error');
        this.statements.set(m.name, m.text);
        out.push({ type: 'ParseComplete' });
        return;
      }
      case 'Bind': {
        if (m.portal === '') this.portals.delete('');
        const text = this.statements.get(m.statement);
        if (text === undefined) return this.fail(out, '26000', `prepared statement "${m.statement}" does not exist`);
        if (m.portal !== '' && this.portals.has(m.portal)) return this.fail(out, '42P03', `cursor "${m.portal}" already exists`);
        const upper = text.trim().toUpperCase();
        if (this.aborted && upper !== 'ROLLBACK' && upper !== 'COMMIT') return this.fail(out, '25P02', 'current transaction is aborted');
        this.portals.set(m.portal, text);
        out.push({ type: 'BindComplete' });
        return;
      }
      case 'Describe': {
        const text = m.target === 'S' ? this.statements.get(m.name) : this.portals.get(m.name);
        if (text === undefined) return this.fail(out, m.target === 'S' ? '26000' : '34000', `"${m.name}" does not exist`);
        if (m.target === 'S') out.push({ type: 'ParameterDescription', types: [] });
        if (text.trim().toUpperCase().startsWith('SELECT')) out.push({ type: 'RowDescription', fields: [{ name: 'x', tableOid: 0, column: 0, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 }] });
        else out.push({ type: 'NoData' });
        return;
      }
      case 'Execute': {
        const text = this.portals.get(m.portal);
        if (text === undefined) return this.fail(out, '34000', `portal "${m.portal}" does not exist`);
        this.run(text, out, false);
        return;
      }
      case 'Close':
        (m.target === 'S' ? this.statements : this.portals).delete(m.name);
        out.push({ type: 'CloseComplete' });
        return;
      case 'Sync':
        this.skipping = false;
        this.endImplicit();
        out.push({ type: 'ReadyForQuery', status: this.status });
        return;
      case 'FunctionCall':
        throw new Finding(`a fast-path call of OID ${m.oid} reached the server, which no catalog names`);
      case 'Terminate':
        this.gone = true; // the server closes: nothing after it is read
        return;
      default:
        return; // Flush, COPY messages outside a COPY: nothing to answer
    }
  }
}
