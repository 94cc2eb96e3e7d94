// Cancel keys: the client gets a (pid, key) pair made by the gateway, never the
// target's; a CancelRequest carrying it is relayed to the right target session. With
// data-plane workers the pid names the thread that gave it (ConnectionIds), as a MySQL
// connection id does, so a CancelRequest that lands on another thread goes to that one.
import { randomInt } from 'node:crypto';
import type { ConnectionIds } from '../engine.ts';

export interface CancelTarget {
  /** opens a fresh stream to the target and sends its CancelRequest */
  cancel(): Promise<void>;
}

export class CancelRegistry {
  private readonly map = new Map<string, CancelTarget>();

  constructor(private readonly ids: ConnectionIds = { offset: 0, stride: 1 }) {}

  /** Did this thread give the pid? (when not, another thread holds its session, if any does) */
  gave(pid: number): boolean {
    return pid % this.ids.stride === this.ids.offset;
  }

  register(target: CancelTarget): { pid: number; key: number; release: () => void } {
    let pid: number, key: number, id: string;
    do {
      const { offset, stride } = this.ids;
      pid = offset + stride * randomInt(1, Math.floor((2 ** 31 - 1 - offset) / stride));
      key = randomInt(-(2 ** 31), 2 ** 31 - 1);
      id = `${pid}:${key}`;
    } while (this.map.has(id));
    this.map.set(id, target);
    return { pid, key, release: () => this.map.delete(id) };
  }

  lookup(pid: number, key: number): CancelTarget | undefined {
    return this.map.get(`${pid}:${key}`);
  }
}
