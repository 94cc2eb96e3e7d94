// `warden exec <connection> -- <args...>`: POST /api/v1/exec with argv and follow its NDJSON
// stream (src/gateway/exec-stream.ts), writing the command's output as it comes. Returns the
// exit code to leave with: the command's own, 3 when held for review, 1 when refused.
import { constants } from 'node:os';

interface Line {
  type: 'start' | 'stdout' | 'stderr' | 'exit';
  data?: string;
  code?: number | null;
  signal?: string | null;
  error?: string;
}

export const EXIT_UNREACHABLE = 255;

export async function runArgv(base: string, token: string | undefined, connection: string, argv: string[]): Promise<number> {
  let res: Response;
  try {
    res = await fetch(new URL('/api/v1/exec', base), {
      method: 'POST',
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      body: JSON.stringify({ connection, argv }),
    });
  } catch (e) {
    throw new Error(`cannot reach the gateway at ${base}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`, { cause: e });
  }
  if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('application/x-ndjson')) {
    const body = (await res.json().catch(() => ({}))) as { error?: string; reviewId?: string };
    if (res.status === 202) {
      console.error(`held for review ${body.reviewId}: ${body.error}\nnothing ran; once it is approved, run the same command again`);
      return 3;
    }
    throw new Error(body.error ?? `gateway answered ${res.status}: ${res.statusText}`);
  }
  let exit: Line | null = null;
  let buf = '';
  const decoder = new TextDecoder();
  const handle = async (raw: string) => {
    if (!raw) return;
    const l = JSON.parse(raw) as Line;
    if (l.type === 'stdout' || l.type === 'stderr') {
      const out = l.type === 'stdout' ? process.stdout : process.stderr;
      // the caller's terminal sets the pace: the gateway holds the command while we wait
      if (!out.write(l.data ?? '')) await new Promise((r) => out.once('drain', r));
    } else if (l.type === 'exit') exit = l;
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      await handle(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  await handle(buf + decoder.decode());
  const x = exit as Line | null;
  if (!x) {
    console.error('warden: the gateway ended the stream without the exit status');
    return EXIT_UNREACHABLE;
  }
  if (x.error) console.error(`warden: ${x.error}`);
  if (x.signal) return 128 + (constants.signals[x.signal as keyof typeof constants.signals] ?? 0);
  return x.code ?? EXIT_UNREACHABLE;
}
