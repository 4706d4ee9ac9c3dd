import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { idToString, newId, toHex } from '../../src/core/ids';
import { Library } from '../../src/engine/library';
import { NetworkUnavailableError } from '../../src/net/errors';
import { keyPairFromSeed } from '../../src/net/keys';
import { ControlClient } from '../../src/service/control-client';
import { DEVICE_KEY_FILE, EngineService, type EngineServiceOptions } from '../../src/service/engine-service';
import { AmbiguousLibraryError, NoLibraryError, ServiceClosedError, ServiceRunningError } from '../../src/service/errors';
import { serveControl, type ServiceControl } from '../../src/service/serve-control';
import type { StatusReport } from '../../src/service/status';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { createTestnet, type Testnet } from '../support/testnet';


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(20);
  }
}

const tag = (name: string) => ({ model: 'tag', op: 'create' as const, data: { name, color: null, icon: null, description: null, namespace: null } });

describe('EngineService', function () {
  this.timeout(60_000);
  let testnet: Testnet;
  let cleanup: (() => Promise<unknown>)[] = [];
  const logs = new Map<string, string[]>();

  before(async () => {
    testnet = await createTestnet(3);
  });
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup = [];
    logs.clear();
  });
  after(async () => {
    await testnet?.destroy();
    cleanupTempDirs();
  });

  async function start(name: string, opts: Partial<EngineServiceOptions> = {}): Promise<EngineService> {
    const log: string[] = logs.get(name) ?? [];
    logs.set(name, log);
    const s = await EngineService.start({
      dataDir: opts.dataDir ?? tempDir(`lls-svc-${name}-`),
      bootstrap: testnet.bootstrap,
      // SVC_DEBUG=1 prints what the services log.
      log: (l) => (log.push(l), process.env.SVC_DEBUG && console.log(`[${name}] ${l}`)),
      ...opts,
    });
    cleanup.push(() => s.close());
    return s;
  }

  const partnerReady = (s: EngineService) => {
    const st = s.status(undefined, { digest: false });
    return st.state === 'ready' && st.partners.length > 0 && st.partners.every((p) => p.ready);
  };

  it('two services whose libraries list each other connect over one swarm each and converge on a tag; suspend leaves, resume rejoins', async () => {
    const a = await start('a');
    const b = await start('b');
    if (process.platform !== 'win32') assert.equal(fs.statSync(path.join(a.dataDir, DEVICE_KEY_FILE)).mode & 0o777, 0o600, 'the device key file is 0600');
    assert.equal(a.network.state, 'up');

    const la = await a.createLibrary({ name: 'shared' });
    // b joins the same library (what pairing will do): created outside the service, then handed to it.
    const lb = await Library.create({ dataDir: b.dataDir, name: 'shared', libraryId: la.id, secret: la.secret });
    await b.addLibrary(lb);
    assert.equal(b.library(), lb);

    // Each lists the other as a partner with its network key; the 'partners' event reaches sync without a restart.
    await la.addPartner(lb.deviceId, 'b', b.keyPair.publicKey);
    await lb.addPartner(la.deviceId, 'a', a.keyPair.publicKey);
    await waitFor('both ready with the partner online', () => partnerReady(a) && partnerReady(b));
    assert.equal(a.swarm?.connectionCount, 1);

    await la.commitShared([tag('todo')]);
    await waitFor('the tag reaches b', () => lb.counts().tag === 1);
    await waitFor('same digest', () => la.digest() === lb.digest());

    const st = b.status();
    assert.equal(st.library, idToString(la.id));
    assert.equal(st.state, 'ready');
    assert.equal(st.digest, la.digest());
    assert.deepEqual(
      st.partners.map((p) => ({ device: p.device, name: p.name, key: p.publicKey, online: p.online, ready: p.ready, seen: typeof p.lastSeen })),
      [{ device: idToString(la.deviceId), name: 'a', key: a.publicKey, online: true, ready: true, seen: 'number' }],
    );
    assert.equal(st.counts.tag, 1);
    assert.equal(typeof st.logSize, 'number');

    // b leaves the swarm: a sees it go, b pauses; a writes meanwhile; b resumes and catches up.
    await b.suspend();
    assert.equal(b.network.state, 'suspended');
    assert.equal(b.status().state, 'paused');
    assert.equal(b.swarm, null);
    await waitFor('a notices b is gone', () => a.status(undefined, { digest: false }).partners[0].online === false);
    await la.commitShared([tag('while b was away')]);
    await b.resume();
    assert.equal(b.network.state, 'up');
    await waitFor('b catches up after resuming', () => lb.counts().tag === 2 && partnerReady(b));
    await waitFor('same digest again', () => la.digest() === lb.digest());

    // Nothing logged holds the library secret.
    const secretHex = toHex(la.secret);
    for (const [name, lines] of logs) assert.ok(!lines.some((l) => l.includes(secretHex) || l.includes(Buffer.from(la.secret).toString('base64'))), `${name} logged the secret`);
    assert.ok(logs.get('b')!.some((l) => /partner a online/.test(l)), logs.get('b')!.join('\n'));
  });

  it('pushes state and peer events to a subscribed control client, and answers status over the socket', async () => {
    const a = await start('a');
    const b = await start('b');
    const ca: ServiceControl = await serveControl(a);
    cleanup.push(() => ca.close());
    const client = await ControlClient.connect(ca.endpoint);
    cleanup.push(() => client.close());
    const events: { name: string; data: Record<string, unknown> }[] = [];
    client.on('event', (name, data) => events.push({ name, data: data as Record<string, unknown> }));
    await client.call('subscribe', { events: ['state', 'peer', 'changed', 'libraries'] });

    const la = await a.createLibrary({ name: 'shared' });
    const lb = await b.createLibrary({ name: 'shared', libraryId: la.id, secret: la.secret });
    await la.addPartner(lb.deviceId, 'b', b.keyPair.publicKey);
    await lb.addPartner(la.deviceId, 'a', a.keyPair.publicKey);
    await waitFor('a peer event: b up', () => events.some((e) => e.name === 'peer' && e.data.up === true && e.data.device === idToString(lb.deviceId)));
    assert.ok(events.some((e) => e.name === 'libraries'));
    assert.ok(events.some((e) => e.name === 'state' && e.data.library === idToString(la.id)));
    await lb.commitShared([tag('from b')]);
    await waitFor('a changed event', () => events.some((e) => e.name === 'changed' && e.data.library === idToString(la.id)) && la.counts().tag === 1);

    const report = await client.call<StatusReport>('status');
    assert.equal(report.service.running, true);
    assert.equal(report.service.pid, process.pid);
    assert.equal(report.service.publicKey, a.publicKey);
    assert.equal(report.service.network.state, 'up');
    assert.deepEqual(report.service.network.bootstrap, testnet.bootstrap.map((n) => `${n.host}:${n.port}`));
    assert.equal(report.libraries.length, 1);
    assert.equal(report.libraries[0].digest, la.digest());
    assert.equal(report.libraries[0].partners[0].online, true);
  });

  it('runs offline with a clear status when networking is unavailable; the libraries still work', async () => {
    let attempts = 0;
    const s = await start('offline', {
      createSwarmHost: async () => {
        attempts++;
        throw new NetworkUnavailableError(new Error("Cannot find addon '.'"));
      },
    });
    assert.equal(s.network.state, 'unavailable');
    assert.match(s.network.error ?? '', /unavailable on this platform.*Cannot find addon/);
    const lib = await s.createLibrary({ name: 'local only' });
    await lib.commitShared([tag('still works')]);
    const st = s.status();
    assert.equal(st.state, 'offline');
    assert.equal(st.counts.tag, 1);
    assert.ok(logs.get('offline')!.some((l) => /peer networking unavailable/.test(l)));
    await s.resume(); // tries again
    assert.equal(attempts, 2);
    assert.equal(s.network.state, 'unavailable');
  });

  it('indexes a folder into a library with progress events', async () => {
    const s = await start('indexer', { network: false });
    const lib = await s.createLibrary({ name: 'files' });
    const folder = tempDir('lls-svc-folder-');
    fs.mkdirSync(path.join(folder, 'src'));
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(folder, 'src', `f${i}.ts`), 'x'.repeat(i));
    const events: { done: boolean; written: number }[] = [];
    s.on('indexing', (e) => events.push(e));
    const r = await s.addLocation(undefined, folder, { workspaceKey: 'github.com/acme/files' });
    assert.equal(r.entries, 6);
    assert.equal(r.workspaceKey, 'github.com/acme/files');
    assert.deepEqual(events.at(-1), { library: idToString(lib.id), path: folder, scanned: 6, written: 6, deleted: 0, done: true });
    const st = s.status();
    assert.equal(st.counts.location, 1);
    assert.equal(st.counts.entry, 6);
    assert.ok(logs.get('indexer')!.some((l) => l.startsWith(`indexed ${folder}: 6 entries`)));
  });

  it('refuses a second service on the same data directory, naming the pid; after close it starts again', async () => {
    const dir = tempDir('lls-svc-lock-');
    const first = await start('first', { dataDir: dir, network: false });
    await first.createLibrary({ name: 'one' });
    await assert.rejects(start('second', { dataDir: dir, network: false }), (e: unknown) => e instanceof ServiceRunningError && e.pid === process.pid && e.message.includes(`pid ${process.pid}`) && e.message.includes(dir));
    await first.close();
    await assert.rejects(first.createLibrary({ name: 'late' }), ServiceClosedError);
    const again = await start('again', { dataDir: dir, network: false });
    assert.equal(again.libraries().length, 1);
    assert.equal(again.library().name, 'one');
    assert.equal(again.network.state, 'off');
    assert.equal(again.status().state, 'stopped');
  });

  it('opens every library of the data directory, reports one it cannot open, and resolves library references', async () => {
    const dir = tempDir('lls-svc-many-');
    const keyPair = keyPairFromSeed(randomBytes(32));
    const s1 = await start('s1', { dataDir: dir, network: false, keyPair });
    await assert.rejects(async () => s1.library(), NoLibraryError);
    const one = await s1.createLibrary({ name: 'one' });
    const two = await s1.createLibrary({ name: 'two' });
    assert.deepEqual(one.deviceId, two.deviceId, 'one device id per data directory');
    await s1.close();
    // A library folder whose database is missing.
    const broken = idToString(newId());
    const brokenDir = path.join(dir, 'libraries', broken.replace(/-/g, ''));
    fs.mkdirSync(brokenDir, { recursive: true });
    fs.writeFileSync(path.join(brokenDir, 'library.json'), JSON.stringify({ id: broken, name: 'broken', createdAt: 0 }));

    const s2 = await start('s2', { dataDir: dir, network: false, keyPair });
    assert.equal(s2.publicKey, toHex(keyPair.publicKey), 'a key pair handed in is used');
    assert.equal(fs.existsSync(path.join(dir, DEVICE_KEY_FILE)), false, 'and no key file is written');
    assert.deepEqual(s2.libraryInfos().map((l) => l.name).sort(), ['one', 'two']);
    assert.deepEqual(s2.problemList().map((p) => p.library), [broken]);
    assert.throws(() => s2.library(), AmbiguousLibraryError);
    assert.equal(s2.library(idToString(two.id)).name, 'two');
    assert.equal(s2.library(idToString(two.id).slice(0, 8)).name, 'two', 'a unique prefix');
    assert.equal(s2.library(two.id).name, 'two');
    assert.throws(() => s2.library(broken), /could not be opened/);
    assert.throws(() => s2.library('ffffffff-ffff'), /No library/);
    assert.equal(s2.statusAll({ digest: false }).length, 2);

    // A library written by someone else meanwhile (a join) is opened at runtime.
    const three = await Library.create({ dataDir: dir, name: 'three', deviceId: one.deviceId });
    const id3 = three.id;
    await three.close();
    await s2.openLibrary(id3);
    assert.equal(s2.library(id3).name, 'three');
    await s2.closeLibrary(id3);
    assert.throws(() => s2.library(id3), /No library/);
  });
});
