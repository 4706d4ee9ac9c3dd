import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ControlClient } from '../../src/service/control-client';
import { controlEndpoint } from '../../src/service/control-endpoint';
import { LineSplitter, MAX_REQUEST_LINE_BYTES } from '../../src/service/control-protocol';
import { ControlServer } from '../../src/service/control-server';
import { ControlError, InvalidParamsError, ServiceNotRunningError } from '../../src/service/errors';
import { invokeMethod, type MethodTable } from '../../src/service/method-table';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const unix = process.platform !== 'win32';

/** A raw connection that sends lines and reads back parsed lines. */
class RawClient {
  private buf = '';
  private readonly lines: unknown[] = [];
  private waiting: (() => void) | null = null;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl !== -1; nl = this.buf.indexOf('\n')) {
        this.lines.push(JSON.parse(this.buf.slice(0, nl)));
        this.buf = this.buf.slice(nl + 1);
      }
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  static connect(endpoint: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(endpoint, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  async next(): Promise<Record<string, unknown>> {
    while (this.lines.length === 0) {
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((r) => (this.waiting = r));
      this.waiting = null;
    }
    return this.lines.shift() as Record<string, unknown>;
  }

  close(): void {
    this.socket.destroy();
  }
}

const methods: MethodTable = {
  echo: (p) => ({ text: p.string('text') }),
  nothing: () => undefined,
  fails: () => {
    throw new InvalidParamsError('bad things');
  },
  crashes: () => {
    throw new TypeError('a bug');
  },
  async slow(p) {
    await new Promise((r) => setTimeout(r, 20));
    return p.optionalString('tag') ?? null;
  },
  subscribe(p, ctx) {
    ctx.connection?.subscribe(p.optionalStrings('events') ?? null);
    return {};
  },
};

describe('control protocol: line splitting', () => {
  it('splits lines across chunks, drops CR and empty lines, and bounds a long line', () => {
    const lines: string[] = [];
    let tooLong = 0;
    const s = new LineSplitter(10, (l) => lines.push(l), () => tooLong++);
    s.push(Buffer.from('ab'));
    s.push(Buffer.from('c\r\n\n\nde'));
    s.push(Buffer.from('f\n0123456789'));
    s.push(Buffer.from('\n'));
    assert.deepEqual(lines, ['abc', 'def', '0123456789']);
    s.push(Buffer.from('0123456789A'));
    assert.equal(tooLong, 1, 'reported as soon as it passes the bound');
    s.push(Buffer.from('more and more and more'));
    s.push(Buffer.from('still\nok\n'));
    assert.equal(tooLong, 1, 'reported once');
    assert.deepEqual(lines, ['abc', 'def', '0123456789', 'ok']);
  });

  it('keeps multi-byte characters split across chunks whole', () => {
    const lines: string[] = [];
    const s = new LineSplitter(100, (l) => lines.push(l), () => assert.fail('not too long'));
    const bytes = Buffer.from('é€😀\n');
    for (const b of bytes) s.push(Buffer.from([b]));
    assert.deepEqual(lines, ['é€😀']);
  });
});

describe('control protocol: endpoint', () => {
  it('is control.sock in the data directory, a hashed socket in a per-user folder when that path is too long, a named pipe on Windows', () => {
    assert.equal(controlEndpoint('/home/me/.leaderless-sync', 'linux'), '/home/me/.leaderless-sync/control.sock');
    const deep = '/home/me/' + 'x'.repeat(120);
    const a = controlEndpoint(deep, 'linux', { XDG_RUNTIME_DIR: '/run/user/1000' }, 1000);
    assert.match(a, /^\/run\/user\/1000\/leaderless-sync\/[0-9a-f]{24}\.sock$/);
    assert.equal(controlEndpoint(deep, 'linux', { XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), a, 'every process derives the same path');
    assert.notEqual(controlEndpoint(deep + 'y', 'linux', { XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), a);
    // No runtime directory: the shared temp folder, in a folder of this user's own (named by uid, so users do not collide).
    const t = controlEndpoint(deep, 'linux', {}, 1000);
    assert.equal(path.dirname(t), path.join(os.tmpdir(), 'leaderless-sync-1000'));
    assert.notEqual(path.dirname(controlEndpoint(deep, 'linux', {}, 1001)), path.dirname(t));
    const pipe = controlEndpoint('C:\\Users\\Me\\data', 'win32');
    assert.match(pipe, /^\\\\\.\\pipe\\leaderless-sync-[0-9a-f]{24}$/);
    assert.equal(controlEndpoint('C:\\Users\\me\\DATA', 'win32'), pipe, 'case-insensitive on Windows');
  });
});

describe('control channel: server and client', () => {
  let servers: ControlServer[] = [];
  let clients: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const s of servers.splice(0)) await s.close();
  });
  after(cleanupTempDirs);

  async function listen(dir = tempDir(), opts: { maxLineBytes?: number; log?: (l: string) => void } = {}): Promise<ControlServer> {
    const s = await ControlServer.listen({ endpoint: controlEndpoint(dir), methods, ...opts });
    servers.push(s);
    return s;
  }

  async function raw(s: ControlServer): Promise<RawClient> {
    const c = await RawClient.connect(s.endpoint);
    clients.push(c);
    return c;
  }

  it('answers requests by id, with results and coded errors', async () => {
    const s = await listen();
    const c = await ControlClient.connect(s.endpoint);
    clients.push(c);
    assert.deepEqual(await c.call('echo', { text: 'hi' }), { text: 'hi' });
    assert.equal(await c.call('nothing'), null);
    await assert.rejects(c.call('fails'), (e: unknown) => e instanceof ControlError && e.code === 'ERR_INVALID_PARAMS' && e.message === 'bad things');
    await assert.rejects(c.call('crashes'), (e: unknown) => e instanceof ControlError && e.code === 'ERR_FAILED' && e.message === 'a bug');
    await assert.rejects(c.call('echo', { text: 5 }), (e: unknown) => e instanceof ControlError && e.code === 'ERR_INVALID_PARAMS' && /"text" must be a string/.test(e.message));
    // Concurrent calls are matched by id, whatever order they finish in.
    const results = await Promise.all([c.call('slow', { tag: 'a' }), c.call('echo', { text: 'b' }), c.call('slow', { tag: 'c' })]);
    assert.deepEqual(results, ['a', { text: 'b' }, 'c']);
  });

  it('rejects malformed lines and unknown methods with clear errors, and keeps serving the same connection', async () => {
    const s = await listen();
    const c = await raw(s);
    c.write('this is not json\n');
    assert.deepEqual(await c.next(), { id: null, error: { code: 'ERR_PARSE', message: errorOf('this is not json') } });
    c.write('[1,2,3]\n');
    assert.equal(((await c.next()).error as { code: string }).code, 'ERR_INVALID_REQUEST');
    c.write('{"method":"echo"}\n');
    assert.match(JSON.stringify(await c.next()), /"id":null.*ERR_INVALID_REQUEST.*needs an \\"id\\"/);
    c.write('{"id":7}\n');
    assert.deepEqual(await c.next(), { id: 7, error: { code: 'ERR_INVALID_REQUEST', message: 'A request needs a "method" (a string)' } });
    c.write('{"id":8,"method":"echo","params":[1]}\n');
    assert.equal(((await c.next()).error as { code: string }).code, 'ERR_INVALID_REQUEST');
    c.write('{"id":"x","method":"launchMissiles"}\n');
    assert.deepEqual(await c.next(), { id: 'x', error: { code: 'ERR_UNKNOWN_METHOD', message: 'Unknown method "launchMissiles"' } });
    c.write('{"id":"p","method":"toString"}\n');
    assert.equal(((await c.next()).error as { code: string }).code, 'ERR_UNKNOWN_METHOD', 'inherited properties are not methods');
    c.write('{"id":9,"method":"echo","params":{"text":"still here"}}\r\n');
    assert.deepEqual(await c.next(), { id: 9, result: { text: 'still here' } });
  });

  it('refuses an oversized line without reading it all into memory, then goes on', async () => {
    const s = await listen(tempDir(), { maxLineBytes: 1024 });
    const c = await raw(s);
    c.write('{"id":1,"method":"echo","params":{"text":"' + 'x'.repeat(4000));
    const refused = await c.next();
    assert.equal(refused.id, null);
    assert.equal((refused.error as { code: string }).code, 'ERR_LINE_TOO_LONG');
    c.write('x'.repeat(100_000) + '"}}\n{"id":2,"method":"echo","params":{"text":"after"}}\n');
    assert.deepEqual(await c.next(), { id: 2, result: { text: 'after' } });
    assert.equal(MAX_REQUEST_LINE_BYTES, 1 << 20, 'the default bound is 1 MiB');
  });

  it('pushes events only to connections that subscribed, and only the events they asked for', async () => {
    const s = await listen();
    const [all, some, none] = [await ControlClient.connect(s.endpoint), await ControlClient.connect(s.endpoint), await ControlClient.connect(s.endpoint)];
    clients.push(all, some, none);
    const got = { all: [] as string[], some: [] as string[], none: [] as string[] };
    all.on('event', (n, d) => got.all.push(`${n}:${JSON.stringify(d)}`));
    some.on('event', (n) => got.some.push(n));
    none.on('event', (n) => got.none.push(n));
    await all.call('subscribe');
    await some.call('subscribe', { events: ['peer'] });
    s.publish('state', { library: 'l', state: 'ready' });
    s.publish('peer', { up: true });
    // A round trip after publishing: events sent before the answer have arrived.
    await Promise.all([all.call('nothing'), some.call('nothing'), none.call('nothing')]);
    assert.deepEqual(got.all, ['state:{"library":"l","state":"ready"}', 'peer:{"up":true}']);
    assert.deepEqual(got.some, ['peer']);
    assert.deepEqual(got.none, []);
  });

  it('gives the same answers in-process as over the socket', async () => {
    const s = await listen();
    const c = await ControlClient.connect(s.endpoint);
    clients.push(c);
    const local = async (m: string, p: Record<string, unknown> = {}) => invokeMethod(methods, m, p, { connection: null });
    assert.deepEqual(await local('echo', { text: 'x' }), { result: await c.call('echo', { text: 'x' }) });
    assert.deepEqual(await local('nothing'), { result: null });
    const err = await c.call('fails').catch((e: ControlError) => ({ code: e.code, message: e.message }));
    assert.deepEqual(await local('fails'), { error: err });
    assert.deepEqual(await local('nope'), { error: { code: 'ERR_UNKNOWN_METHOD', message: 'Unknown method "nope"' } });
  });

  it('creates the socket with mode 0600 and removes it on close', async function () {
    if (!unix) this.skip();
    const dir = tempDir();
    const s = await listen(dir);
    const st = fs.statSync(s.endpoint);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    await s.close();
    assert.equal(fs.existsSync(s.endpoint), false);
    await assert.rejects(ControlClient.connect(s.endpoint), ServiceNotRunningError);
  });

  it('replaces a socket left by a dead process, refuses a live one, and never removes a file that is not a socket', async function () {
    if (!unix) this.skip();
    const dir = tempDir();
    const endpoint = controlEndpoint(dir);
    // A process that listens, then dies without closing: its socket file stays.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(endpoint)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await new Promise((r) => child.on('exit', r));
    assert.ok(fs.statSync(endpoint).isSocket(), 'the dead process left its socket');
    await assert.rejects(ControlClient.connect(endpoint), ServiceNotRunningError, 'nothing answers on a stale socket');

    const logged: string[] = [];
    await listen(dir, { log: (l) => logged.push(l) });
    assert.ok(logged.some((l) => /stale control socket/.test(l)), logged.join('\n'));
    const c = await ControlClient.connect(endpoint);
    clients.push(c);
    assert.deepEqual(await c.call('echo', { text: 'new server' }), { text: 'new server' });

    await assert.rejects(ControlServer.listen({ endpoint, methods }), (e: unknown) => e instanceof ControlError && e.code === 'ERR_SERVICE_RUNNING');
    assert.deepEqual(await c.call('echo', { text: 'unharmed' }), { text: 'unharmed' });

    const other = path.join(tempDir(), 'control.sock');
    fs.writeFileSync(other, 'precious');
    await assert.rejects(ControlServer.listen({ endpoint: other, methods }), /is not a socket/);
    assert.equal(fs.readFileSync(other, 'utf8'), 'precious');
  });

  describe('who may listen: a folder only this user can use, a socket only this user made', () => {
    const isRoot = unix && process.getuid!() === 0;
    const OTHER_UID = 65534;
    /** An endpoint outside the data directory (the data directory's path is too long), under a runtime folder of the test's. */
    function longEndpoint(): { runtime: string; endpoint: string } {
      const runtime = tempDir();
      return { runtime, endpoint: controlEndpoint(path.join(tempDir(), 'x'.repeat(120)), process.platform, { XDG_RUNTIME_DIR: runtime }) };
    }
    /** Something listening at `endpoint` that is not our service; counts who connects to it. */
    async function impostor(endpoint: string): Promise<{ connections: number; close(): Promise<void> }> {
      const state = { connections: 0, close: () => new Promise<void>((r) => server.close(() => r())) };
      const server = net.createServer((s) => {
        state.connections++;
        s.end('{"id":1,"result":"whatever you like"}\n');
      });
      await new Promise<void>((r) => server.listen(endpoint, r));
      return state;
    }

    it('the server puts a socket whose data directory path is too long in a 0700 folder of its own, tightening one others could enter', async function () {
      if (!unix) this.skip();
      const { runtime, endpoint } = longEndpoint();
      const folder = path.dirname(endpoint);
      assert.equal(path.dirname(folder), runtime);
      const s = await ControlServer.listen({ endpoint, methods });
      servers.push(s);
      const st = fs.statSync(folder);
      assert.equal(st.mode & 0o777, 0o700);
      assert.equal(st.uid, process.getuid!());
      assert.equal(fs.statSync(endpoint).mode & 0o777, 0o600);
      await s.close();
      fs.chmodSync(folder, 0o755);
      const logged: string[] = [];
      servers.push(await ControlServer.listen({ endpoint, methods, log: (l) => logged.push(l) }));
      assert.equal(fs.statSync(folder).mode & 0o777, 0o700);
      assert.ok(logged.some((l) => /made the control socket's folder .* private/.test(l)), logged.join('\n'));
    });

    it('the server refuses a socket folder others can write to, or that is another user\'s, and leaves it as it is', async function () {
      if (!unix) this.skip();
      const { endpoint } = longEndpoint();
      const folder = path.dirname(endpoint);
      fs.mkdirSync(folder, { mode: 0o777 });
      fs.chmodSync(folder, 0o777);
      await assert.rejects(ControlServer.listen({ endpoint, methods }), (e: unknown) => (e as { code?: string }).code === 'ERR_UNSAFE_DIR' && /other users can write to the control socket's folder \(mode 777\)/.test(String(e)));
      assert.equal(fs.statSync(folder).mode & 0o777, 0o777);
      assert.deepEqual(fs.readdirSync(folder), []);
      if (!isRoot) return;
      fs.chmodSync(folder, 0o700);
      fs.chownSync(folder, OTHER_UID, OTHER_UID);
      await assert.rejects(ControlServer.listen({ endpoint, methods }), /the control socket's folder belongs to another user \(uid 65534/);
    });

    it('a client does not talk to whatever listens in a folder others can write to', async function () {
      if (!unix) this.skip();
      // The old fallback: a predictable name in a folder every user can write to (like /tmp).
      const shared = tempDir();
      fs.chmodSync(shared, 0o1777);
      const endpoint = path.join(shared, 'leaderless-sync-0123456789abcdef01234567.sock');
      const fake = await impostor(endpoint);
      try {
        await assert.rejects(ControlClient.connect(endpoint), (e: unknown) => {
          assert.equal((e as { code?: string }).code, 'ERR_UNSAFE_ENDPOINT', String(e));
          assert.match(String(e), /Refusing to connect to .*: other users can write to the control socket's folder \(mode 1777\)/);
          return true;
        });
        assert.equal(fake.connections, 0, 'not even connected');
      } finally {
        await fake.close();
      }
    });

    it("a client does not talk to a socket another user made, or one in another user's folder", async function () {
      if (!isRoot) this.skip(); // only root can give a file to another user
      const dir = tempDir();
      const endpoint = controlEndpoint(dir);
      const fake = await impostor(endpoint);
      try {
        fs.lchownSync(endpoint, OTHER_UID, OTHER_UID);
        await assert.rejects(ControlClient.connect(endpoint), /Refusing to connect to .*: the socket belongs to another user \(uid 65534/);
        fs.lchownSync(endpoint, 0, 0);
        fs.chownSync(dir, OTHER_UID, OTHER_UID);
        await assert.rejects(ControlClient.connect(endpoint), /Refusing to connect to .*: the control socket's folder belongs to another user \(uid 65534/);
        assert.equal(fake.connections, 0);
      } finally {
        await fake.close();
      }
    });

    it('a client finds no service (and does not wait for one to appear) when the folder or the socket is missing', async function () {
      if (!unix) this.skip();
      const { endpoint } = longEndpoint();
      await assert.rejects(ControlClient.connect(endpoint), ServiceNotRunningError);
      fs.mkdirSync(path.dirname(endpoint), { mode: 0o700 });
      await assert.rejects(ControlClient.connect(endpoint), ServiceNotRunningError);
      const file = path.join(tempDir(), 'control.sock');
      fs.writeFileSync(file, 'not a socket');
      await assert.rejects(ControlClient.connect(file), /Refusing to connect to .*: it is not a socket/);
    });
  });

  it('rejects pending calls when the server goes away', async () => {
    const s = await listen();
    const c = await ControlClient.connect(s.endpoint);
    clients.push(c);
    const closed = new Promise<void>((r) => c.on('close', r));
    const pending = c.call('slow');
    await s.close();
    await assert.rejects(pending, (e: unknown) => e instanceof ControlError && e.code === 'ERR_CONNECTION');
    await closed;
    await assert.rejects(c.call('echo', { text: 'x' }), ControlError);
  });
});

/** The message JSON.parse gives for `text` (it differs between Node versions). */
function errorOf(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return `Not JSON: ${(e as Error).message}`;
  }
  throw new Error('parsed');
}
