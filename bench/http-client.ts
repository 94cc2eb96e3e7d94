// The client side of bench:http: one request timed from send to its last byte (and to its
// first complete server-sent event), samples taken in turn from every target so a slow moment
// of the machine falls on all of them alike, and the 1 GiB upload and download.
import { Agent, request } from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { bodyBlocks } from './http-body.ts';

export interface Target {
  name: string;
  /** the base URL requests are made under (`http://127.0.0.1:<port>` or `.../proxy/<connection>`) */
  base: string;
  headers: Record<string, string>;
  /** the process in the middle, whose CPU and memory are read (null: direct) */
  pid: number | null;
}

export interface Timed {
  status: number;
  /** ms from sending to the last byte of the answer */
  ms: number;
  /** ms from sending to the end of the first server-sent event (NaN: none) */
  firstEventMs: number;
  text: string;
}

// One keep-alive connection per target, as a sequential client (an SDK) holds it.
const agents = new Map<string, Agent>();

export function timed(t: Target, method: string, path: string, body?: string): Promise<Timed> {
  let agent = agents.get(t.name);
  if (!agent) agents.set(t.name, (agent = new Agent({ keepAlive: true, maxSockets: 1 })));
  const headers = { ...t.headers, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }) };
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const since = () => Number(process.hrtime.bigint() - start) / 1e6;
    const req = request(`${t.base}${path}`, { method, headers, agent }, (res) => {
      let text = '';
      let firstEventMs = NaN;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        if (Number.isNaN(firstEventMs) && text.includes('\n\n')) firstEventMs = since();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: since(), firstEventMs, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `n` rounds (after `warm` unrecorded ones), each round one call per target in turn. */
export async function interleaved<T>(targets: Target[], n: number, warm: number, call: (t: Target) => Promise<T>): Promise<Map<string, T[]>> {
  const out = new Map(targets.map((t) => [t.name, [] as T[]]));
  for (let i = 0; i < warm + n; i++) {
    for (const t of targets) {
      const r = await call(t);
      if (i >= warm) out.get(t.name)!.push(r);
    }
  }
  return out;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
}

export interface Transfer {
  status: number;
  seconds: number;
  bytes: number;
  sha256: string;
}

/** POST `total` bytes of bodyBlocks to `<base>/sink`; the target answers what it got. */
export function upload(t: Target, total: number, seed: number): Promise<Transfer> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const headers = { ...t.headers, 'content-type': 'application/octet-stream', 'content-length': String(total) };
    const req = request(`${t.base}/sink`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        try {
          const got = JSON.parse(text) as { bytes: number; sha256: string };
          resolve({ status: res.statusCode ?? 0, seconds, bytes: got.bytes, sha256: got.sha256 });
        } catch {
          reject(new Error(`upload through ${t.name}: ${res.statusCode} ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    Readable.from(bodyBlocks(total, seed)).pipe(req);
  });
}

/** GET `total` bytes from `<base>/source`, hashed as they arrive. */
export function download(t: Target, total: number, seed: number): Promise<Transfer> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = request(`${t.base}/source?bytes=${total}&seed=${seed}`, { headers: t.headers }, (res) => {
      const h = createHash('sha256');
      let bytes = 0;
      res.on('data', (c: Buffer) => (h.update(c), (bytes += c.length)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes, sha256: h.digest('hex') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
