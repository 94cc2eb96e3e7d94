// A door's server bound to host:port; resolves with the port it got (port 0 asks the kernel
// for one, as the tests do). Shared by the Postgres, MySQL and SSH doors.
import type { AddressInfo } from 'node:net';

interface Listenable {
  once(event: 'error', listener: (e: Error) => void): unknown;
  listen(opts: { port: number; host: string; reusePort?: boolean }, done: () => void): unknown;
  address(): AddressInfo | string | null;
}

/** `reusePort`: other threads listen on the same port too, and the kernel spreads connections over them (data-plane workers). */
export function listenOn(server: Listenable, host: string, port: number, reusePort = false): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(reusePort ? { port, host, reusePort } : { port, host }, () => {
      const a = server.address();
      resolve({ host, port: typeof a === 'object' && a ? a.port : port });
    });
  });
}
