// A bounded, approximately least-recently-used map. Map keeps insertion order, so an
// entry re-inserted on a hit moves to the young end and the oldest is always first. A hit
// re-inserts only an entry that has aged past half the capacity: entries in the young
// half are safe from eviction anyway, and a delete + set on every hit (three hashes of a
// statement's text) was the most of a classification-cache hit's cost, once per query.
interface Entry<V> {
  value: V;
  /** the insertion count when it was last put at the young end */
  at: number;
}

export class Lru<K, V> {
  private readonly map = new Map<K, Entry<V>>();
  private inserts = 0;

  constructor(readonly max: number) {}

  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (this.inserts - e.at > this.max >> 1) {
      this.map.delete(key);
      this.map.set(key, e);
      e.at = this.inserts++;
    }
    return e.value;
  }

  set(key: K, value: V): void {
    if (this.max <= 0) return;
    this.map.delete(key);
    this.map.set(key, { value, at: this.inserts++ });
    if (this.map.size > this.max) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
