// Cancel keys: the client gets a (pid, key) pair made by the gateway, never the
// target's; a CancelRequest carrying it is relayed to the right target session.
import { randomInt } from 'node:crypto';

export interface CancelTarget {
  /** opens a fresh stream to the target and sends its CancelRequest */
  cancel(): Promise<void>;
}

export class CancelRegistry {
  private readonly map = new Map<string, CancelTarget>();

  register(target: CancelTarget): { pid: number; key: number; release: () => void } {
    let pid: number, key: number, id: string;
    do {
      pid = randomInt(1, 2 ** 31 - 1);
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
