// The SSH front door: stock OpenSSH clients log in as `<connection>@gateway` with their
// Warden token as password (password or keyboard-interactive), or with a public key
// registered to them (`warden keys add`), through admission. An
// admitted caller gets one pipeline session for the connection; each exec (and the shell)
// on it is a command. The gateway logs in to the target itself, with the key it holds.
// SFTP and legacy SCP are relayed and recorded per file (sftp.ts, scp.ts). Port and agent
// forwarding only as a rule allows (forwarding.ts); unix-socket forwarding, X11, environment
// and other subsystems are refused.
import ssh2, { type AuthContext, type Client, type Connection, type ServerChannel, type Session as SshSession } from 'ssh2';

// CommonJS: Server is not visible to an ESM named import
const { Server, utils } = ssh2;
import { createServer, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { SshConnectionConfig } from '../../config/schema.ts';
import type { AdmissionAnswer, AdmissionCredential, AdmissionRefusal } from '../../session/admission.ts';
import type { OpenSession } from '../../session/types.ts';
import type { Session } from '../../session/session.ts';
import { connectUpstream } from './upstream.ts';
import { endWith, EXIT_REFUSED, runExec, type ChannelContext, type ChannelState } from './exec.ts';
import { runShell } from './shell.ts';
import { Forwarding } from './forwarding.ts';
import { runSftp } from './sftp.ts';
import { sshFingerprint } from '../../config/ssh-connection.ts';
import type { GatewayHostKey } from './host-key.ts';
import { listenOn } from '../listen-on.ts';
import { HandshakeSlots, type HandshakeSlot } from '../handshake-slots.ts';

const METHODS: AuthContext['method'][] = ['publickey', 'password', 'keyboard-interactive'];
/** tries of a token on one connection before the door hangs up (OpenSSH asks three times) */
const MAX_AUTH_TRIES = 6;

export interface SshFrontDoorDeps {
  admit(req: { credential: AdmissionCredential; connection: string; clientAddr: string }): Promise<AdmissionAnswer<SshConnectionConfig>>;
  /** is a public key with this fingerprint registered? (OpenSSH asks before it signs) */
  keyKnown(fingerprint: string): Promise<boolean>;
  openSession: OpenSession;
  dial(connection: SshConnectionConfig): Promise<Duplex>;
  hostKey: GatewayHostKey;
  /** bytes of each command's output kept in the record */
  keepBytes: number;
  /** where terminal recordings (asciicast) are written */
  recordingsDir: string;
  handshake: { timeoutMs: number; maxPending: number };
  onRefused(reason: 'handshake_timeout' | 'too_many_handshakes', clientAddr: string): void;
  log: Logger;
}

export class SshFrontDoor {
  private readonly live = new Set<Connection>();
  /** the door's listener: it takes each TCP connection (and its slot) before ssh2 reads a byte of it */
  private tcp: TcpServer | null = null;
  /** connections accepted and not yet admitted */
  private readonly slots: HandshakeSlots;
  /** the slot of each connection ssh2 has not yet handed to accept(), by client address */
  private readonly arriving = new Map<string, HandshakeSlot>();
  active = 0;

  constructor(private readonly deps: SshFrontDoorDeps) {
    this.slots = new HandshakeSlots(deps.handshake);
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const ssh = new Server({ hostKeys: [this.deps.hostKey.private], ident: 'Warden' }, (client, info) => this.accept(client, `${info.ip}:${info.port}`, info.header.versions.software));
    // ssh2 tells of a connection only once the client has sent its version line: one that
    // sends nothing (or only that) would hold its socket for ever. So the door takes each
    // TCP connection first, with its slot and deadline, then hands it to ssh2.
    const tcp = (this.tcp = createServer((socket) => this.arrive(socket, ssh)));
    return listenOn(tcp, host, port);
  }

  async close(): Promise<void> {
    for (const c of this.live) c.end();
    await new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));
  }

  /** A TCP connection: a login slot under a deadline (HandshakeSlots), or refused when none is free. */
  private arrive(socket: Socket, ssh: InstanceType<typeof Server>): void {
    socket.on('error', () => {});
    const clientAddr = `${socket.remoteAddress}:${socket.remotePort}`;
    const slot = this.slots.take(() => {
      this.deps.onRefused('handshake_timeout', clientAddr);
      socket.destroy();
    });
    if (!slot) {
      this.deps.onRefused('too_many_handshakes', clientAddr);
      socket.destroy();
      return;
    }
    this.arriving.set(clientAddr, slot);
    socket.once('close', () => {
      slot.release();
      if (this.arriving.get(clientAddr) === slot) this.arriving.delete(clientAddr);
    });
    // Keystroke echoes are tiny writes: with Nagle's algorithm each waited for the caller's
    // delayed ACK (~40 ms a key, bench:ssh); OpenSSH's sshd sets TCP_NODELAY for the same reason.
    socket.setNoDelay(true);
    ssh.injectSocket(socket);
  }

  private accept(client: Connection, clientAddr: string, software: string): void {
    client.on('error', (e) => this.deps.log.debug({ clientAddr, err: e.message }, 'ssh client error'));
    // the slot its TCP connection took (arrive); none: its deadline passed meanwhile
    const slot = this.arriving.get(clientAddr);
    this.arriving.delete(clientAddr);
    if (!slot) {
      client.end();
      return;
    }
    this.live.add(client);
    const admitted = slot.release;
    let answer: { ok: true; identity: AdmissionAnswer<SshConnectionConfig> & { ok: true } } | { ok: false; refusal: AdmissionRefusal } | null = null;
    let tries = 0;
    /** the registered key the caller logged in with (recorded in the session's attributes) */
    let keyFingerprint: string | null = null;
    client.on('authentication', (ctx) => {
      if (!METHODS.includes(ctx.method)) return ctx.reject(METHODS);
      const admit = (credential: AdmissionCredential) => {
        if (++tries > MAX_AUTH_TRIES) {
          ctx.reject(METHODS);
          client.end();
          return;
        }
        void this.deps.admit({ credential, connection: ctx.username, clientAddr }).then(
          (a) => {
            if (a.ok) answer = { ok: true, identity: a };
            else if (a.refusal.kind === 'bad_credential' || a.refusal.kind === 'rate_limited') return ctx.reject(METHODS);
            // Who the caller is is settled; what they may not use is said on their channel.
            else answer = { ok: false, refusal: a.refusal };
            if (credential.kind === 'sshkey') keyFingerprint = credential.fingerprint;
            ctx.accept();
          },
          (e: Error) => {
            this.deps.log.error({ clientAddr, err: e.message }, 'ssh admission failed');
            ctx.reject(METHODS);
          },
        );
      };
      const check = (token: string | undefined) => (token ? admit({ kind: 'token', token }) : ctx.reject(METHODS));
      if (ctx.method === 'publickey') {
        const fingerprint = sshFingerprint(ctx.key.data);
        // OpenSSH asks whether a key would do before it signs: only registered keys are worth a signature.
        if (!ctx.signature || !ctx.blob) {
          return void this.deps.keyKnown(fingerprint).then((known) => (known ? ctx.accept() : ctx.reject(METHODS)), () => ctx.reject(METHODS));
        }
        // The caller proves it holds the private key: its signature over this session's id.
        const key = utils.parseKey(ctx.key.data);
        if (key instanceof Error || Array.isArray(key) || key.isPrivateKey() || key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
          this.deps.log.info({ clientAddr, fingerprint }, 'ssh public key signature refused');
          tries++;
          return ctx.reject(METHODS);
        }
        return admit({ kind: 'sshkey', fingerprint });
      }
      if (ctx.method === 'password') return check(ctx.password);
      if (ctx.method !== 'keyboard-interactive') return ctx.reject(METHODS);
      ctx.prompt([{ prompt: 'Warden token: ', echo: false }], 'Warden', `Log in to connection "${ctx.username}" with your Warden access token`, (answers: string[]) => check(answers[0]));
    });
    let session: Session | null = null;
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      admitted();
      this.live.delete(client);
      if (session) {
        this.active--;
        void session.end(reason);
      }
      if (upstream) void upstream.then((u) => u.end(), () => {});
    };
    let upstream: Promise<Client> | null = null;
    client.on('close', () => end('client disconnected'));
    client.on('ready', () => {
      admitted();
      const a = answer!;
      if (!a.ok) return this.refusedCaller(client, a.refusal);
      const { identity, connection } = a.identity;
      const opened = this.deps.openSession({ identity, connection: connection.name, connectionType: 'ssh', protocol: 'ssh', clientAddr, attributes: { user: connection.user, client: software, ...(keyFingerprint ? { key: keyFingerprint } : {}) } });
      const ctxP: Promise<ChannelContext> = opened.then((s) => {
        session = s;
        this.active++;
        if (ended) void s.end('client disconnected');
        return {
          session: s,
          // one login to the target per caller connection; made again after it drops or failed
          upstream: () =>
            (upstream ??= this.deps.dial(connection).then((stream) => connectUpstream(stream, connection)).then(
              (c) => {
                c.on('close', () => (upstream = null));
                return c;
              },
              (e: Error) => {
                upstream = null;
                throw e;
              },
            )),
          keepBytes: this.deps.keepBytes,
          fileTransfers: connection.fileTransfers,
          log: this.deps.log,
        };
      });
      ctxP.catch((e: Error) => {
        this.deps.log.error({ clientAddr, err: e.message }, 'ssh session could not be opened');
        client.end();
      });
      this.serve(client, ctxP);
    });
  }

  /** An admitted caller's channels: sessions, and the forwarding a rule allows (forwarding.ts). */
  private serve(client: Connection, admittedCtx: Promise<ChannelContext>): void {
    const log = this.deps.log;
    const forwarding = new Forwarding(client, admittedCtx, log);
    // session channels reach the target after an agent-forwarding request is decided
    const ctxP = forwarding.context();
    client.on('tcpip', (accept, reject, info) => forwarding.local(accept, reject, info));
    client.on('request', (accept, reject, name, info) => forwarding.request(accept, reject, name, info));
    client.on('openssh.streamlocal', (_accept, reject) => {
      log.info('ssh unix-socket forwarding refused');
      reject();
    });
    client.on('session', (accept) => {
      const s: SshSession = accept();
      const state: ChannelState = { pty: null, up: null };
      s.on('pty', (ok, _no, info) => {
        state.pty = info;
        ok?.();
      });
      s.on('window-change', (ok, _no, info) => {
        state.pty = state.pty && { ...state.pty, rows: info.rows, cols: info.cols, width: info.width, height: info.height };
        state.up?.setWindow(info.rows, info.cols, info.height, info.width);
        state.onResize?.(info.cols, info.rows);
        ok?.();
      });
      s.on('signal', (ok, _no, info) => {
        state.up?.signal(info.name);
        ok?.();
      });
      // The caller's environment is not passed (LD_PRELOAD, PATH...): the target's own applies.
      s.on('env', (_ok, no) => no?.());
      s.on('x11', (_ok, no) => no?.());
      s.on('auth-agent', (ok, no) => forwarding.agent(ok, no));
      // SFTP (and modern scp) is relayed and recorded per file (sftp.ts); other subsystems are refused
      s.on('subsystem', (ok, no, info) => {
        if (info.name !== 'sftp') {
          log.info({ subsystem: info.name }, 'ssh subsystem refused');
          return no?.();
        }
        const ch = ok();
        void ctxP.then((ctx) => runSftp(ctx, ch)).catch((e: Error) => fail(ch, e));
      });
      s.on('exec', (ok, _no, info) => {
        const ch = ok();
        void ctxP.then((ctx) => runExec(ctx, ch, info.command, state)).catch((e: Error) => fail(ch, e));
      });
      s.on('shell', (ok) => {
        const ch = ok();
        void ctxP.then((ctx) => runShell(ctx, ch, state, this.deps.recordingsDir)).catch((e: Error) => fail(ch, e));
      });
    });
    const fail = (ch: ServerChannel, e: Error) => {
      log.error({ err: e.message }, 'ssh channel failed');
      endWith(ch, `warden: internal error\n`, EXIT_REFUSED);
    };
  }

  /** A caller whose token is good but who may not use this connection: told on any channel, then closed. */
  private refusedCaller(client: Connection, refusal: AdmissionRefusal): void {
    const say = (ch: ServerChannel) => {
      endWith(ch, `warden: ${refusal.message}\r\n`, EXIT_REFUSED);
      setTimeout(() => client.end(), 200).unref();
    };
    client.on('session', (accept) => {
      const s = accept();
      s.on('pty', (ok) => ok?.());
      s.on('env', (_ok, no) => no?.());
      s.on('exec', (ok) => say(ok()));
      s.on('shell', (ok) => say(ok()));
      s.on('subsystem', (_ok, no) => no?.());
    });
    client.on('tcpip', (_a, reject) => reject());
    client.on('request', (_a, reject) => reject?.());
    setTimeout(() => client.end(), 30_000).unref();
  }

  get activeSessions(): number {
    return this.active;
  }

  get pendingHandshakes(): number {
    return this.slots.pending;
  }
}
