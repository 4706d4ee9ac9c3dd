/**
 * The control channel's server: listens on the data directory's endpoint
 * (see control-endpoint.ts), answers newline-delimited JSON requests from a
 * method table, and pushes events to the connections that subscribed.
 *
 * - Bad input never drops the server or even the connection: a line that is
 *   not JSON, not a request, names an unknown method, or is longer than the
 *   bound gets an error answer (id null when there is no id to echo).
 * - The socket lives in a folder only this user can enter (created 0700;
 *   one that another user owns or can write to is refused; see
 *   endpoint-trust.ts), and the socket file is created with mode 0600
 *   (umask while binding, chmod after as well: worker threads cannot
 *   change the umask), so only this user can connect.
 * - A socket file left by a dead process is detected (nothing answers on
 *   it) and replaced; a live one is refused. Only sockets are ever
 *   removed: a regular file in the way is an error.
 * - A subscriber that does not read its events is disconnected once its
 *   backlog passes a bound, so a stuck UI cannot make the service grow.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { errCode } from '../store/fsutil';
import { endpointIsFile } from './control-endpoint';
import { prepareEndpointFolder } from './endpoint-trust';
import { encodeLine, LineSplitter, MAX_REQUEST_LINE_BYTES, parseRequest, PROTOCOL_ERROR, type ControlAnswer } from './control-protocol';
import { ControlError } from './errors';
import { invokeMethod, type ControlConnection, type MethodTable } from './method-table';

export interface ControlServerOptions {
  endpoint: string;
  methods: MethodTable;
  log?: (line: string) => void;
  maxLineBytes?: number;
  /** A connection with more unsent bytes than this is closed (default 16 MiB). */
  maxBacklogBytes?: number;
}

const DEFAULT_MAX_BACKLOG = 16 << 20;

export class ControlServer {
  private readonly conns = new Set<Connection>();
  private closing: Promise<void> | null = null;
  /** Inode of the socket file we created (to remove only our own on close). */
  private ino: number | null = null;
  readonly log: (line: string) => void;

  private constructor(
    private readonly server: net.Server,
    readonly options: ControlServerOptions,
  ) {
    this.log = options.log ?? (() => undefined);
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listens on `options.endpoint`, replacing a stale socket file. */
  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    const s = new ControlServer(net.createServer(), options);
    await s.bind();
    return s;
  }

  get endpoint(): string {
    return this.options.endpoint;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Sends an event to every connection subscribed to it. */
  publish(event: string, data: unknown): void {
    if (this.closing) return;
    let line: string | null = null;
    for (const c of this.conns) {
      if (!c.wants(event)) continue;
      line ??= encodeLine({ event, data });
      c.send(line);
    }
  }

  /** Stops listening, closes every connection and removes the socket file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const c of this.conns) c.socket.destroy();
      await closed;
      this.removeSocketFile();
    })();
    return this.closing;
  }

  private async bind(): Promise<void> {
    const { endpoint } = this.options;
    prepareEndpointFolder(endpoint, this.log);
    try {
      await this.tryListen();
    } catch (e) {
      if (errCode(e) !== 'EADDRINUSE' || !endpointIsFile(endpoint)) throw e;
      const st = lstatOrNull(endpoint);
      if (st && !st.isSocket()) throw new ControlError('ERR_FAILED', `${endpoint} exists and is not a socket; move it away`);
      if (await answers(endpoint)) throw new ControlError('ERR_SERVICE_RUNNING', `Another process is already listening on ${endpoint}`);
      this.log(`removing a stale control socket at ${endpoint} (no process answers on it)`);
      try {
        fs.unlinkSync(endpoint);
      } catch (e2) {
        if (errCode(e2) !== 'ENOENT') throw e2;
      }
      await this.tryListen();
    }
    if (endpointIsFile(endpoint)) {
      fs.chmodSync(endpoint, 0o600);
      this.ino = fs.statSync(endpoint).ino;
    }
  }

  private tryListen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => {
        this.server.off('listening', onListening);
        reject(e);
      };
      const onListening = () => {
        this.server.off('error', onError);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      // The socket is bound inside listen(): the umask makes it 0600 from the first moment.
      withUmask(0o177, () => this.server.listen(this.options.endpoint));
    });
  }

  private removeSocketFile(): void {
    const { endpoint } = this.options;
    if (!endpointIsFile(endpoint) || this.ino === null) return;
    const st = lstatOrNull(endpoint);
    if (st?.isSocket() && st.ino === this.ino) {
      try {
        fs.unlinkSync(endpoint);
      } catch {
        /* gone already */
      }
    }
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, this.options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG, this.log);
    this.conns.add(conn);
    socket.on('close', () => this.conns.delete(conn));
    socket.on('error', () => undefined); // a client going away mid-write; 'close' follows
    const splitter = new LineSplitter(
      this.options.maxLineBytes ?? MAX_REQUEST_LINE_BYTES,
      (line) => void this.handle(conn, line),
      () => conn.answer({ id: null, error: { code: PROTOCOL_ERROR.lineTooLong, message: `Request line longer than ${this.options.maxLineBytes ?? MAX_REQUEST_LINE_BYTES} bytes; skipped up to its newline` } }),
    );
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
  }

  private async handle(conn: Connection, line: string): Promise<void> {
    const req = parseRequest(line);
    if ('error' in req) {
      conn.answer(req);
      return;
    }
    const outcome = await invokeMethod(this.options.methods, req.method, req.params, { connection: conn });
    conn.answer({ id: req.id, ...outcome } as ControlAnswer);
  }
}

class Connection implements ControlConnection {
  /** Events this connection subscribed to: null none, 'all' every one. */
  private events: Set<string> | 'all' | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly maxBacklog: number,
    private readonly log: (line: string) => void,
  ) {}

  subscribe(events: readonly string[] | null): void {
    if (events === null) this.events = 'all';
    else {
      if (this.events === null) this.events = new Set();
      if (this.events !== 'all') for (const e of events) this.events.add(e);
    }
  }

  unsubscribe(): void {
    this.events = null;
  }

  wants(event: string): boolean {
    return this.events === 'all' || (this.events !== null && this.events.has(event));
  }

  answer(a: ControlAnswer): void {
    this.send(encodeLine(a));
  }

  send(line: string): void {
    if (this.socket.destroyed) return;
    this.socket.write(line);
    if (this.socket.writableLength > this.maxBacklog) {
      this.log(`closing a control connection: it left ${this.socket.writableLength} bytes unread`);
      this.socket.destroy();
    }
  }
}

function withUmask(mask: number, fn: () => void): void {
  let old: number | null = null;
  try {
    old = process.umask(mask);
  } catch {
    // Worker threads cannot change the umask; bind() chmods right after.
  }
  try {
    fn();
  } finally {
    if (old !== null) process.umask(old);
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/** True if something accepts a connection on `endpoint`. */
function answers(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(endpoint);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
