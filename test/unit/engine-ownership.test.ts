/**
 * One engine per machine: child processes stand in for VS Code windows on
 * one data directory. Exactly one owns the engine (its worker thread), the
 * others are its clients; when the owner goes (gracefully or SIGKILL),
 * another takes over, and writes issued meanwhile all land.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { EngineOwnership } from '../../src/worker/engine-ownership';
import { bundleWindow, WindowProcess, type WindowBundle } from '../support/window-process';
import { cleanupTempDirs, tempDir } from '../support/tmp';

describe('engine ownership across windows', function () {
  this.timeout(60_000);
  let bundle: WindowBundle;
  const windows: WindowProcess[] = [];

  before(async () => {
    bundle = await bundleWindow();
  });
  afterEach(async () => {
    for (const w of windows.splice(0)) {
      w.kill();
      await w.exited;
    }
  });
  after(cleanupTempDirs);

  const open = (dataDir: string): WindowProcess => {
    const w = new WindowProcess(bundle, dataDir);
    windows.push(w);
    return w;
  };

  async function threeWindows(dataDir: string): Promise<WindowProcess[]> {
    const ws = [open(dataDir), open(dataDir), open(dataDir)];
    const states = await Promise.all(ws.map((w) => w.connected()));
    assert.deepEqual(states.filter((s) => s === 'owner').length, 1, `states: ${states.join(', ')}`);
    assert.deepEqual(states.filter((s) => s === 'client').length, 2);
    return ws;
  }

  it('exactly one window owns the engine; every window calls it and gets its events', async () => {
    const dataDir = tempDir();
    const ws = await threeWindows(dataDir);
    const owner = ws.find((w) => w.state === 'owner')!;
    const pings = await Promise.all(ws.map((w) => w.call<{ pid: number }>('ping')));
    // Every window reaches the same engine: the owner process's worker thread.
    assert.deepEqual(new Set(pings.map((p) => p.pid)), new Set([owner.pid]));
    const client = ws.find((w) => w.state === 'client')!;
    await client.call('init', { name: 'Shared' });
    for (const w of ws) await w.waitFor((m) => m.type === 'event' && m.name === 'libraries', 10_000, "'libraries' event");
    const made = await owner.call<{ name: string }>('albumCreate', { name: 'from owner' });
    assert.equal(made.name, 'from owner');
    for (const w of ws) await w.waitFor((m) => m.type === 'event' && m.name === 'changed', 10_000, "'changed' event");
  });

  for (const how of ['SIGKILL', 'graceful'] as const) {
    it(`another window takes over when the owner goes (${how}); writes made meanwhile all land`, async () => {
      const dataDir = tempDir();
      const ws = await threeWindows(dataDir);
      const owner = ws.find((w) => w.state === 'owner')!;
      const rest = ws.filter((w) => w !== owner);
      await rest[0].call('init', { name: 'Shared' });
      await rest[0].call('albumCreate', { name: 'before' });

      const mark = rest.map((w) => w.messages.length);
      if (how === 'SIGKILL') owner.kill('SIGKILL');
      else owner.stop();
      // Writes issued from both remaining windows while the engine moves.
      const writes = rest.flatMap((w, i) => [0, 1, 2].map((j) => w.call('albumCreate', { name: `during ${i}.${j}` })));
      await Promise.all(writes);
      await owner.exited;

      const after = await Promise.all(rest.map((w, i) => w.waitFor((m, k = w.messages.indexOf(m)) => k >= mark[i] && m.type === 'state' && (m.state === 'owner' || m.state === 'client'), 15_000, 'reconnection')));
      assert.deepEqual(after.map((m) => m.state).sort(), ['client', 'owner'], 'one new owner, one client');
      const albums = (await rest[1].call<{ name: string }[]>('albums')).map((a) => a.name).sort();
      const expected = ['before', 'during 0.0', 'during 0.1', 'during 0.2', 'during 1.0', 'during 1.1', 'during 1.2'];
      // Graceful: running calls are answered, later ones refused and sent again: each exactly once. SIGKILL: a call the
      // dead owner committed but could not answer is sent again, so one may land twice; none is lost.
      if (how === 'graceful') assert.deepEqual(albums, expected);
      else assert.deepEqual([...new Set(albums)], expected);
      // The events keep coming from the new owner.
      const m2 = rest.map((w) => w.messages.length);
      await rest[0].call('albumCreate', { name: 'after' });
      for (const [i, w] of rest.entries()) await w.waitFor((m) => w.messages.indexOf(m) >= m2[i] && m.type === 'event' && m.name === 'changed', 10_000, "'changed' event after the takeover");
    });
  }
});

describe('engine ownership in one window', function () {
  this.timeout(60_000);
  let workerFile: string;
  before(async () => {
    workerFile = (await bundleWindow()).worker;
  });
  after(cleanupTempDirs);

  const make = (dataDir: string, lines: string[] = []) =>
    new EngineOwnership({ dataDir, workerFile, config: () => ({ data: { network: false } }), log: (l) => lines.push(l), callTimeoutMs: 5000 });

  it('a call made while the engine starts waits for it', async () => {
    const own = make(tempDir());
    own.start();
    assert.equal(own.state, 'starting');
    try {
      const ping = await own.call<{ pid: number }>('ping');
      assert.equal(ping.pid, process.pid);
      assert.equal(own.state, 'owner');
    } finally {
      await own.stop();
    }
    assert.equal(own.state, 'stopped');
    await assert.rejects(own.call('ping'), (e: { code?: string }) => e.code === 'ERR_ENGINE_STOPPED');
  });

  it('a crashed worker is restarted (its locks released) and the window owns the engine again', async () => {
    const lines: string[] = [];
    const own = make(tempDir(), lines);
    const states: string[] = [];
    own.on('connection', (s) => states.push(s));
    own.start();
    try {
      await own.call('init', { name: 'W' });
      const thread = (own as unknown as { thread: { worker: { terminate(): Promise<number> } } }).thread;
      await thread.worker.terminate(); // what a crash looks like from the window
      const names = await own.call<{ name: string }[]>('libraries');
      assert.deepEqual(names.map((l) => l.name), ['W']);
      assert.equal(own.state, 'owner');
      assert.deepEqual(states, ['starting', 'owner', 'starting', 'owner']);
      assert.ok(lines.some((l) => /engine worker crashed/.test(l)), lines.join('\n'));
    } finally {
      await own.stop();
    }
  });

  it('an engine that cannot start is reported failed with the reason, calls fail at once, and it recovers when the cause goes', async () => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'device.key'), 'garbage', { mode: 0o600 });
    const own = make(dataDir);
    own.start();
    try {
      await new Promise<void>((resolve) => own.on('connection', (s) => s === 'failed' && resolve()));
      assert.match(own.error ?? '', /device\.key.*corrupt/);
      const t0 = Date.now();
      await assert.rejects(own.call('ping'), (e: { code?: string; message: string }) => e.code === 'ERR_ENGINE_FAILED' && /corrupt/.test(e.message));
      assert.ok(Date.now() - t0 < 1000, 'a failed engine does not make calls wait');
      fs.rmSync(path.join(dataDir, 'device.key'));
      await new Promise<void>((resolve) => own.on('connection', (s) => s === 'owner' && resolve()));
      assert.equal(own.error, null);
    } finally {
      await own.stop();
    }
  });

  it('never talks to a socket another user could have put there: reported failed with the reason, nothing started', async function () {
    if (process.platform === 'win32') this.skip();
    // A data directory too deep for a socket path: its socket goes in a folder under the runtime directory.
    const runtime = tempDir();
    const dataDir = path.join(tempDir(), 'x'.repeat(120));
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = runtime;
    // Someone made that folder writable by everyone and listens in it.
    const folder = path.join(runtime, 'leaderless-sync');
    fs.mkdirSync(folder);
    fs.chmodSync(folder, 0o777);
    let connections = 0;
    const impostor = net.createServer((s) => (connections++, s.destroy()));
    const lines: string[] = [];
    const own = make(dataDir, lines);
    try {
      await new Promise<void>((r) => impostor.listen(own.endpoint, r));
      assert.equal(path.dirname(own.endpoint), folder);
      own.start();
      await new Promise<void>((resolve) => own.on('connection', (s) => s === 'failed' && resolve()));
      assert.match(own.error ?? '', /Refusing to connect to .*: other users can write to the control socket's folder \(mode 777\)/);
      assert.equal(connections, 0);
      assert.equal(fs.existsSync(dataDir), false, 'no engine was started for it');
    } finally {
      await own.stop();
      await new Promise<void>((r) => impostor.close(() => r()));
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });

  it('stop does not wait out a retry delay', async () => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'device.key'), 'garbage', { mode: 0o600 });
    const own = make(dataDir);
    own.start();
    await new Promise<void>((resolve) => own.on('connection', (s) => s === 'failed' && resolve()));
    const t0 = Date.now();
    await own.stop();
    assert.ok(Date.now() - t0 < 500, `stop took ${Date.now() - t0} ms`);
  });
});
