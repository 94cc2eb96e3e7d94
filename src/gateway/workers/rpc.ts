// A worker's calls to the main thread (messages.ts): each a message with an id, answered
// by a reply with the same id. The review desk is one such caller: a command held for
// review waits here while the desk on the main thread holds it.
import type { HoldAnswer, HoldRequest, ReviewGate } from '../../reviews/desk.ts';
import type { FromWorker, Rpc, ToWorker } from './messages.ts';

export class RpcClient {
  private readonly calls = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(private readonly send: (m: FromWorker) => void) {}

  /** `sent`: told the call's id once its message is out (an abort must follow it, never precede it). */
  call<T>(m: Rpc, sent?: (id: number) => void): Promise<T> {
    const id = this.nextId++;
    const p = new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: never) => void, reject });
      this.send({ t: 'rpc', id, ...m });
    });
    sent?.(id);
    return p;
  }

  answer(m: Extract<ToWorker, { t: 'reply' }>): void {
    const c = this.calls.get(m.id);
    this.calls.delete(m.id);
    if (m.ok) c?.resolve(m.value as never);
    else c?.reject(new Error(m.message));
  }
}

/** The desk as a worker's guard sees it. A client that gives up on a wait (or already had) is told to the main thread. */
export function deskOver(rpc: RpcClient, send: (m: FromWorker) => void): ReviewGate {
  const abortOn = (signal: AbortSignal | undefined) => (id: number) => {
    if (signal?.aborted) send({ t: 'abort', id });
    else signal?.addEventListener('abort', () => send({ t: 'abort', id }), { once: true });
  };
  return {
    hold: (req) => rpc.call<HoldAnswer>({ op: 'hold', req }),
    awaitApproval: (req: HoldRequest, reviewId: string, ms: number, signal?: AbortSignal) => rpc.call<HoldAnswer>({ op: 'awaitApproval', req, reviewId, ms }, abortOn(signal)),
    activeGrant: (identity, connection) => rpc.call({ op: 'activeGrant', identity, connection }),
  };
}
