import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { idEquals, newId, toHex, type Id } from '../../src/core/ids';
import { deviceIdOf, sign } from '../../src/core/signing';
import { changeSigningBytes } from '../../src/engine/records';
import { registry } from '../../src/engine/registry';
import { Library } from '../../src/engine/library';
import { PeerSync } from '../../src/sync/peer-sync';
import type { SessionOptions } from '../../src/sync/session';
import type { Link, Transport } from '../../src/engine/transport';
import { KeyFileError, NetworkUnavailableError } from '../../src/net/errors';
import type { KeyPair } from '../../src/net/hyperswarm-types';
import { keyPairFromSeed, libraryTopic, loadOrCreateDeviceKeyPair } from '../../src/net/keys';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION } from '../../src/protocol/limits';
import { decodeMessage, encodeMessage, type Message } from '../../src/protocol';
import { SwarmHost } from '../../src/net/swarm-host';
import { Random } from '../support/random';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { createTestnet, type Testnet } from '../support/testnet';


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function tryDecode(f: Uint8Array): Message | null {
  try {
    return decodeMessage(f);
  } catch {
    return null;
  }
}


async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(20);
  }
}

const tag = (name: string) => ({ model: 'tag', op: 'create' as const, data: { name, color: null, icon: null, description: null, namespace: null } });

/** A library's partners that have a network key. */
function reachable(lib: Library): { device: Id; publicKey: Uint8Array }[] {
  return lib.partners().flatMap((p) => (p.publicKey ? [{ device: p.device, publicKey: p.publicKey }] : []));
}

describe('keys', () => {
  after(cleanupTempDirs);

  it('creates the device key with mode 0600 and loads it back identical', () => {
    const file = path.join(tempDir(), 'net', 'device.key');
    const a = loadOrCreateDeviceKeyPair(file);
    if (process.platform !== 'win32') assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(a.publicKey.byteLength, 32);
    assert.equal(a.secretKey.byteLength, 64);
    const b = loadOrCreateDeviceKeyPair(file);
    assert.deepEqual([b.publicKey, b.secretKey], [a.publicKey, a.secretKey]);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['device.key'], 'no temporary file left behind');
  });

  it('derives the same key pair as HyperDHT', () => {
    const DHT = require('hyperdht') as { keyPair(seed: Buffer): KeyPair };
    const seed = randomBytes(32);
    const ours = keyPairFromSeed(seed);
    const theirs = DHT.keyPair(seed);
    assert.deepEqual([ours.publicKey, ours.secretKey], [theirs.publicKey, theirs.secretKey]);
  });

  it('refuses a corrupt key file with an error naming it, and leaves it untouched', () => {
    const dir = tempDir();
    const cases: [string, string][] = [
      ['empty.key', ''],
      ['garbage.key', 'not json at all'],
      ['shape.key', JSON.stringify({ type: 'leaderless-sync/device-key', seed: 'zz' })],
      ['mismatch.key', JSON.stringify({ type: 'leaderless-sync/device-key', seed: '11'.repeat(32), publicKey: '22'.repeat(32) })],
    ];
    for (const [name, body] of cases) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, body, { mode: 0o600 });
      assert.throws(
        () => loadOrCreateDeviceKeyPair(file),
        (e: unknown) => e instanceof KeyFileError && e.file === file && e.message.includes(file) && /corrupt/.test(e.message),
      );
      assert.equal(fs.readFileSync(file, 'utf8'), body, `${name} was not touched`);
    }
  });

  it('refuses a key file other users can read', function () {
    if (process.platform === 'win32') this.skip();
    const file = path.join(tempDir(), 'device.key');
    loadOrCreateDeviceKeyPair(file);
    fs.chmodSync(file, 0o644);
    assert.throws(() => loadOrCreateDeviceKeyPair(file), (e: unknown) => e instanceof KeyFileError && e.message.includes(file) && /chmod 600/.test(e.message));
    assert.equal(fs.statSync(file).mode & 0o777, 0o644, 'the mode was not changed behind the user’s back');
  });

  it('derives a 32-byte topic from the secret: deterministic, distinct per secret, not the secret', () => {
    const s1 = randomBytes(32);
    const s2 = randomBytes(32);
    const t1 = libraryTopic(s1);
    assert.equal(t1.byteLength, 32);
    assert.deepEqual(libraryTopic(Uint8Array.from(s1)), t1);
    assert.notDeepEqual(libraryTopic(s2), t1);
    assert.notDeepEqual(Buffer.from(t1), s1);
    assert.throws(() => libraryTopic(randomBytes(16)), RangeError);
  });
});

/** One machine: a key pair, a data directory, a SwarmHost and what it logged. */
interface Device {
  name: string;
  dir: string;
  keyFile: string;
  keyPair: KeyPair;
  deviceId: Id;
  host: SwarmHost;
  log: string[];
}

/** One library running on one device. */
interface Running {
  library: Library;
  sync: PeerSync;
  transport: Transport;
  links: Link[];
}

describe('SwarmHost without native addons', () => {
  it('rejects with NetworkUnavailableError, and the modules that import it still load', async () => {
    const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
    const load = Module._load;
    // Fresh copies of the modules that load Hyperswarm, as on a machine where it was never loaded.
    const fresh = [require.resolve('../../src/net/native'), require.resolve('../../src/net/swarm-host')];
    for (const f of fresh) delete require.cache[f];
    Module._load = function (this: unknown, request: string, ...rest: unknown[]) {
      if (request === 'hyperswarm') throw new Error("Cannot find addon '.' imported from 'file:///node_modules/udx-native/binding.js'");
      return load.call(this, request, ...rest);
    };
    try {
      const { SwarmHost: Fresh } = require('../../src/net/swarm-host') as typeof import('../../src/net/swarm-host');
      await assert.rejects(
        // (A loopback bootstrap: should the failure not happen, nothing reaches the public DHT.)
        Fresh.create({ keyPair: keyPairFromSeed(randomBytes(32)), bootstrap: [{ host: '127.0.0.1', port: 9 }] }),
        (e: unknown) => e instanceof NetworkUnavailableError && /unavailable on this platform/.test(e.message) && /Cannot find addon/.test(e.message),
      );
    } finally {
      Module._load = load;
      for (const f of fresh) delete require.cache[f];
    }
  });
});

describe('Hyperswarm transport (local testnet)', function () {
  this.timeout(60_000);
  let testnet: Testnet;
  /** Teardown steps of the current test, run last-first. */
  let cleanup: (() => Promise<void>)[] = [];

  before(async () => {
    testnet = await createTestnet(3);
  });
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup = [];
  });
  after(async () => {
    await testnet?.destroy();
    cleanupTempDirs();
  });

  async function startHost(d: Pick<Device, 'keyFile' | 'log'>): Promise<SwarmHost> {
    // NET_DEBUG=1 prints what the hosts log.
    const host = await SwarmHost.create({ keyPair: loadOrCreateDeviceKeyPair(d.keyFile), bootstrap: testnet.bootstrap, log: (l) => (d.log.push(l), process.env.NET_DEBUG && console.log(l)) });
    cleanup.push(() => host.destroy());
    return host;
  }

  async function device(name: string): Promise<Device> {
    const dir = tempDir(`lls-net-${name}-`);
    const keyFile = path.join(dir, 'device.key');
    const log: string[] = [];
    const host = await startHost({ keyFile, log });
    const keyPair = loadOrCreateDeviceKeyPair(keyFile);
    return { name, dir, keyFile, keyPair, deviceId: deviceIdOf(keyPair.publicKey), host, log };
  }

  /** The same library on every device in `devices`, each listing the others (with their keys) as partners. */
  async function shareLibrary(devices: Device[], name = 'lib'): Promise<Library[]> {
    const first = await Library.create({ dataDir: devices[0].dir, name, deviceId: devices[0].deviceId, keyPair: devices[0].keyPair });
    const libs = [first];
    for (const d of devices.slice(1)) libs.push(await Library.create({ dataDir: d.dir, name, deviceId: d.deviceId, keyPair: d.keyPair, libraryId: first.id, secret: first.secret }));
    for (const [i, lib] of libs.entries()) {
      // The first device founded the library: each pinned it as its membership's anchor (as pairing does).
      await lib.pinAnchors([{ device: devices[0].deviceId, publicKey: devices[0].keyPair.publicKey, name: devices[0].name }]);
      for (const [j, other] of devices.entries()) if (i !== j) await lib.addPartner(other.deviceId, other.name, other.keyPair.publicKey);
      cleanup.push(() => lib.close());
    }
    return libs;
  }

  function run(d: Device, library: Library, host = d.host, options: Partial<SessionOptions> = {}): Running {
    const transport = host.transport({ libraryId: library.id, secret: library.secret, peers: () => reachable(library) });
    const links: Link[] = [];
    transport.on('link', (l) => links.push(l));
    const sync = new PeerSync(library, transport, options);
    sync.on('error', () => undefined);
    sync.start();
    cleanup.push(() => sync.stop());
    return { library, sync, transport, links };
  }

  const ready = (...rs: Running[]) => rs.every((r) => r.sync.state === 'ready' && r.sync.readyPeers().length > 0);

  it('two paired devices connect, reach ready and sync a tag', async () => {
    const [a, b] = [await device('a'), await device('b')];
    const [la, lb] = await shareLibrary([a, b]);
    const [ra, rb] = [run(a, la), run(b, lb)];
    await waitFor('both ready', () => ready(ra, rb));
    assert.ok(idEquals(ra.links[0].remote, b.deviceId), 'the link names the partner by its device id');
    assert.ok(idEquals(rb.links[0].remote, a.deviceId));
    await la.commitShared([tag('todo')]);
    await waitFor('the tag arrives', () => lb.counts().tag === 1);
    await waitFor('digests match', () => la.digest() === lb.digest());
  });

  it('an unpaired device that knows the topic gets no connection and no channel; the attempts are logged', async () => {
    const [a, b, c] = [await device('a'), await device('b'), await device('c')];
    const [la, lb] = await shareLibrary([a, b]);
    // c has the library's id and secret and lists a and b, but neither lists c.
    const lc = await Library.create({ dataDir: c.dir, name: 'lib', deviceId: c.deviceId, keyPair: c.keyPair, libraryId: la.id, secret: la.secret });
    cleanup.push(() => lc.close());
    await lc.addPartner(a.deviceId, 'a', a.keyPair.publicKey);
    await lc.addPartner(b.deviceId, 'b', b.keyPair.publicKey);
    const [ra, rb, rc] = [run(a, la), run(b, lb), run(c, lc)];
    const cKey = c.keyPair.publicKey.toString('hex').slice(0, 12);
    await waitFor('a and b logged refusing c', () => a.log.some((l) => l.includes(cKey)) && b.log.some((l) => l.includes(cKey)));
    await waitFor('a and b ready', () => ready(ra, rb));
    await la.commitShared([tag('secret plans')]);
    await waitFor('the tag reaches b', () => lb.counts().tag === 1);
    assert.equal(rc.links.length, 0, 'c got no link');
    assert.equal(c.host.connectionCount, 0, 'c has no connection');
    assert.equal(lc.counts().tag, 0);
    assert.equal(a.host.connectionCount, 1, 'a is connected to b only');
    assert.ok(ra.links.every((l) => idEquals(l.remote, b.deviceId)));
    assert.ok(a.log.some((l) => l.includes(cKey) && /not a partner/.test(l)), a.log.join('\n'));

    // Now a pairs with c: c was firewalled (and so banned by Hyperswarm) before, and must get through now.
    await la.addPartner(c.deviceId, 'c', c.keyPair.publicKey);
    ra.sync.partnersChanged();
    await waitFor('c gets a link to a and catches up', () => rc.links.length > 0 && lc.counts().tag === 1);
    assert.ok(rc.links.every((l) => idEquals(l.remote, a.deviceId)), 'c is linked to a only: b still refuses it');
    assert.equal(c.host.connectionCount, 1);
  });

  it('two libraries shared by the same two devices sync independently over one connection', async () => {
    const [a, b] = [await device('a'), await device('b')];
    const [l1a, l1b] = await shareLibrary([a, b], 'one');
    const [l2a, l2b] = await shareLibrary([a, b], 'two');
    // A third library where a lists b but b does not have it: its channel is refused.
    const l3a = await Library.create({ dataDir: a.dir, name: 'three', deviceId: a.deviceId, keyPair: a.keyPair });
    cleanup.push(() => l3a.close());
    await l3a.addPartner(b.deviceId, 'b', b.keyPair.publicKey);
    const rs = [run(a, l1a), run(b, l1b), run(a, l2a), run(b, l2b)];
    const r3 = run(a, l3a);
    await waitFor('all ready', () => ready(...rs));
    assert.equal(a.host.connectionCount, 1);
    assert.equal(b.host.connectionCount, 1);
    await l1a.commitShared([tag('in one')]);
    await l2b.commitShared([tag('in two')]);
    await l2b.commitShared([tag('also in two')]);
    await waitFor('library one synced', () => l1b.counts().tag === 1 && l1a.digest() === l1b.digest());
    await waitFor('library two synced', () => l2a.counts().tag === 2 && l2a.digest() === l2b.digest());
    assert.equal(l1a.counts().tag, 1, 'library two’s tags stayed out of library one');
    assert.equal(l2a.counts().tag, 2);
    await waitFor('b logged refusing the channel of a library it does not have', () => b.log.some((l) => /refused a channel/.test(l)));
    assert.equal(r3.links.length, 0);
    assert.equal(a.host.connectionCount, 1, 'still one connection');
  });

  it('a device whose host dies mid-sync is dropped, then reconnects and catches up when it comes back', async () => {
    const [a, b] = [await device('a'), await device('b')];
    const [la, lb] = await shareLibrary([a, b]);
    const ra = run(a, la);
    let rb = run(b, lb);
    await waitFor('both ready', () => ready(ra, rb));
    const closes: string[] = [];
    ra.links[0].on('close', (reason) => closes.push(reason));
    for (let i = 0; i < 200; i++) {
      await la.commitShared([tag(`t${i}`)]);
      if (i === 100) void b.host.destroy(); // mid-sync, without stopping b's engine first
    }
    await waitFor('a notices b is gone', () => closes.length > 0 && ra.sync.readyPeers().length === 0);
    await rb.sync.stop();
    await lb.close();
    for (let i = 200; i < 250; i++) await la.commitShared([tag(`t${i}`)]);

    // b comes back: same key file, library reopened, a new host.
    const lb2 = await Library.open({ dataDir: b.dir, libraryId: la.id, keyPair: b.keyPair });
    cleanup.push(() => lb2.close());
    const host2 = await startHost(b);
    rb = run(b, lb2, host2);
    await waitFor('b reconnects and catches up', () => lb2.counts().tag === 250 && ready(ra, rb), 30_000);
    await waitFor('digests match', () => la.digest() === lb2.digest());
    assert.ok(idEquals(rb.links[rb.links.length - 1].remote, a.deviceId));
  });

  it('unpairing closes the link and the connection; pairing again reconnects', async () => {
    const [a, b] = [await device('a'), await device('b')];
    const [la, lb] = await shareLibrary([a, b]);
    const [ra, rb] = [run(a, la), run(b, lb)];
    await waitFor('both ready', () => ready(ra, rb));
    const closes: string[] = [];
    ra.links[0].on('close', (r) => closes.push(`a: ${r}`));
    rb.links[0].on('close', (r) => closes.push(`b: ${r}`));
    await la.removePartner(b.deviceId);
    ra.sync.partnersChanged();
    await waitFor('both ends closed', () => closes.length === 2);
    assert.ok(closes.includes('a: no longer partners'), closes.join(', '));
    await waitFor('a dropped the connection', () => a.host.connectionCount === 0 && b.host.connectionCount === 0);
    await lb.commitShared([tag('while unpaired')]);
    await waitFor('a refused b when it tried again', () => a.log.some((l) => /refused a connection|not dialling/.test(l)), 20_000);
    assert.equal(la.counts().tag, 0);

    await la.addPartner(b.deviceId, 'b', b.keyPair.publicKey);
    ra.sync.partnersChanged();
    await waitFor('linked and synced again', () => la.counts().tag === 1 && ready(ra, rb), 20_000);
  });

  /** A library's transport with no engine on it: the test sends and reads raw frames. */
  function raw(d: Device, lib: Library) {
    const t = d.host.transport({ libraryId: lib.id, secret: lib.secret, peers: () => reachable(lib) });
    cleanup.push(() => t.close());
    const links: Link[] = [];
    const frames: Uint8Array[] = [];
    const closes: string[] = [];
    t.on('link', (l) => {
      links.push(l);
      l.on('frame', (f) => frames.push(f));
      l.on('close', (r) => closes.push(r));
    });
    t.setPartners(lib.partners().map((p) => p.device));
    return { links, frames, closes };
  }

  /** Bypasses a link's own frame-size check, as a misbehaving peer would. */
  const sendUnchecked = (link: Link, frame: Uint8Array) => (link as unknown as { channel: { messages: { send(m: Uint8Array): boolean }[] } }).channel.messages[0].send(frame);

  it('frames travel whole; oversized frames are dropped on send and close the link on receipt, which then reopens', async () => {
    const [a, b] = [await device('a'), await device('b')];
    const [la, lb] = await shareLibrary([a, b]);
    const [ta, tb] = [raw(a, la), raw(b, lb)];
    await waitFor('linked', () => ta.links.length === 1 && tb.links.length === 1);
    const frame = randomBytes(100_000);
    assert.equal(ta.links[0].send(frame), true);
    assert.equal(ta.links[0].send(new Uint8Array(0)), true);
    await waitFor('frames arrive', () => tb.frames.length === 2);
    assert.deepEqual(Buffer.from(tb.frames[0]), frame);
    assert.equal(tb.frames[1].byteLength, 0);

    const big = new Uint8Array(MAX_FRAME_BYTES + 1);
    assert.equal(ta.links[0].send(big), false, 'an oversized frame is not taken');
    assert.ok(ta.links[0].open);
    assert.ok(a.log.some((l) => /dropped an outgoing frame/.test(l)));
    sendUnchecked(ta.links[0], big);
    await waitFor('b closed the link', () => tb.closes.length === 1 && ta.closes.length === 1);
    assert.match(tb.closes[0], /frame of \d+ bytes; the limit is/);
    await waitFor('b reopened it', () => ta.links.length === 2 && tb.links.length === 2 && ta.links[1].open);
    assert.equal(a.host.connectionCount, 1, 'on the same connection');
    ta.links[1].send(frame);
    await waitFor('frames flow again', () => tb.frames.length === 3);

    // Backpressure: the stream's buffer fills, the link says so, then drains.
    const link = ta.links[1];
    let drained = 0;
    link.on('drain', () => drained++);
    for (let i = 0; i < 64 && !link.congested; i++) link.send(frame);
    assert.ok(link.congested, 'congested once the stream buffers more than its high-water mark');
    await waitFor('drain', () => drained === 1 && !link.congested);
  });

  it('wire fuzz: a paired peer sending garbage, bad fields, huge lengths, oversized frames and floods gets Errors and is cut off; the others keep syncing and lose nothing', async () => {
    const [a, b, m] = [await device('a'), await device('b'), await device('m')];
    const [la, lb, lm] = await shareLibrary([a, b, m]);
    // a cuts m off for 200 ms at a time (doubling, so up to 12.8 s), not the default minute: every attack below gets through.
    const cutOffs: number[] = [];
    const [ra, rb] = [run(a, la, a.host, { cutOffMs: 200 }), run(b, lb)];
    ra.sync.on('cutOff', (e) => cutOffs.push(e.until));
    const tm = raw(m, lm); // m runs no engine: it only sends what the test makes it send
    const abLinked = () => ra.sync.readyPeers().some((p) => idEquals(p, b.deviceId)) && rb.sync.readyPeers().some((p) => idEquals(p, a.deviceId));
    await waitFor('a and b synced, m linked to a', () => abLinked() && tm.links.some((l) => l.open && idEquals(l.remote, a.deviceId)));
    await la.commitShared([tag('before')]);
    await waitFor('b has it', () => lb.counts().tag === 1);

    const rand = new Random(7);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => rand.int(256));
    const hello = encodeMessage({ type: 'hello', protocolVersion: PROTOCOL_VERSION, libraryId: la.id, deviceId: m.deviceId, vector: [], watermarks: [], shared: [], settled: true, seals: [] });
    const valid = [encodeMessage({ type: 'heartbeat', nowMs: Date.now() }), encodeMessage({ type: 'shared-change-request', requestId: 1, have: [], limit: 100, snapshot: null })];
    // m looks alive between attacks: a Hello on every new link, then heartbeats.
    const greeted = new Set<Link>();
    const beat = setInterval(() => {
      for (const l of tm.links) {
        if (!l.open) continue;
        if (!greeted.has(l)) greeted.add(l), l.send(hello);
        l.send(encodeMessage({ type: 'heartbeat', nowMs: Date.now() }));
      }
    }, 300);
    cleanup.push(async () => clearInterval(beat));
    const attacks: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) attacks.push(bytes(1 + rand.int(3000))); // garbage
    for (const code of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
      attacks.push(Uint8Array.from([code, 0xfe, 0xff, 0xff, 0xff, 0xff])); // a 4 GiB length prefix
      attacks.push(Uint8Array.from([code, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    }
    for (let i = 0; i < 20; i++) {
      const f = Uint8Array.from(valid[i % valid.length]); // valid frames with fields broken
      for (let k = 0; k < 3; k++) f[rand.int(f.length)] = rand.int(256);
      attacks.push(f);
    }

    const errorsFromA = () => tm.frames.filter((f) => f.byteLength > 0 && tryDecode(f)?.type === 'error').length;
    const linkToA = () => tm.links.filter((l) => idEquals(l.remote, a.deviceId));
    // Every attack is delivered: when a cuts m off, m waits for a to reopen the link (it does, after a backoff).
    for (let i = attacks.length - 1; i > 0; i--) {
      const j = rand.int(i + 1);
      [attacks[i], attacks[j]] = [attacks[j], attacks[i]];
    }
    let sent = 0;
    const bDuring: string[] = [];
    for (const f of attacks) {
      await waitFor('a reopens the link to m', () => linkToA().some((l) => l.open), 20_000);
      linkToA().find((l) => l.open)!.send(f);
      sent++;
      if (sent % 10 === 0) {
        const name = `from b #${sent}`;
        bDuring.push(name);
        await lb.commitShared([tag(name)]);
      }
      await sleep(2);
    }
    // Hellos that lie: another library, another device's name. Each ends the link at once.
    for (const lie of [
      encodeMessage({ type: 'hello', protocolVersion: PROTOCOL_VERSION, libraryId: newId(), deviceId: m.deviceId, vector: [], watermarks: [], shared: [], settled: true, seals: [] }),
      encodeMessage({ type: 'hello', protocolVersion: PROTOCOL_VERSION, libraryId: la.id, deviceId: a.deviceId, vector: [], watermarks: [], shared: [], settled: true, seals: [] }),
    ]) {
      await waitFor('a reopens the link to m', () => linkToA().some((l) => l.open), 20_000);
      const before = tm.closes.length;
      linkToA().find((l) => l.open)!.send(lie);
      await waitFor('a closes the link', () => tm.closes.length > before);
      sent++;
    }
    // A flood of valid but pointless frames, then one over the size limit.
    const flood = linkToA().find((l) => l.open);
    if (flood) for (let i = 0; i < 20_000; i++) flood.send(valid[0]);
    const last = linkToA().find((l) => l.open);
    if (last) sendUnchecked(last, new Uint8Array(MAX_FRAME_BYTES + 1));

    await waitFor('m got Errors from a and a cut m off', () => errorsFromA() > 0 && tm.closes.length > 0);
    assert.equal(sent, attacks.length + 2);
    assert.ok(errorsFromA() >= 20, `m got ${errorsFromA()} Errors`);
    assert.ok(tm.closes.length >= 2, 'cut off more than once: each time after a bounded number of bad frames');
    assert.ok(cutOffs.length >= 2, `a named m as cut off each time (${cutOffs.length})`);
    assert.ok(tm.closes.some((r) => /closed by the peer|connection closed/.test(r)), tm.closes.join(', '));
    await lb.commitShared([tag('after')]);
    await waitFor('a and b still sync: everything b wrote reached a', () => la.counts().tag === 2 + bDuring.length && la.digest() === lb.digest());
    assert.ok(abLinked(), 'a and b are still linked');
    assert.equal(la.counts().tag, lb.counts().tag);
    assert.equal(la.parkedCount(), 0);
  });
  it("forged records over the network: a paired device that claims another's next change with its own key and relays 300 made-up devices is refused and reported; no made-up device is taken; the others lose nothing", async () => {
    const [a, b, m] = [await device('a'), await device('b'), await device('m')];
    const [la, lb, lm] = await shareLibrary([a, b, m]);
    // Paired by invite: member records of all three (they reach b and m by sync).
    await la.write((tx) => {
      for (const d of [a, b, m]) tx.create('member', { device: d.deviceId, public_key: toHex(d.keyPair.publicKey), name: d.name });
    });
    const [ra, rb, rm] = [run(a, la, a.host, { cutOffMs: 200 }), run(b, lb), run(m, lm)];
    const blamed: Id[] = [];
    ra.sync.on('error', (e) => blamed.push(e.peer));
    await waitFor('all ready, members everywhere', () => [ra, rb, rm].every((r) => r.sync.readyPeers().length === 2 && r.library.members().length === 3));
    const [real] = await lb.commitShared([tag('real')]);
    await waitFor('a has it', () => la.counts().tag === 1);
    const devicesBefore = la.counts().device ?? 0;

    // m runs an honest engine; the frames below are what it adds on its link to a.
    const toA = rm.links.find((l) => l.open && idEquals(l.remote, a.deviceId))!;
    const body = { ...real, seq: real.seq + 1, hlc: { ...real.hlc, counter: real.hlc.counter + 1 }, data: { ...real.data, name: 'forged' }, publicKey: m.keyPair.publicKey };
    const claimed = { ...body, signature: sign(m.keyPair, changeSigningBytes(la.id, registry.sharedModel('tag'), body)) };
    toA.send(encodeMessage({ type: 'shared-change', change: claimed }));
    const made = Array.from({ length: 300 }, (_, i) => {
      const id = deviceIdOf(randomBytes(32));
      return { uuid: id, hlc: { ms: Date.now(), counter: 0, device: id }, deleted: false, data: { name: `made-up ${i}`, os: 'linux', hostname: 'x', app_version: null, created_at: 1, updated_at: 1, last_seen_at: 1 } };
    });
    for (let i = 0; i < made.length; i += 100) toA.send(encodeMessage({ type: 'state-batch', model: 'device', records: made.slice(i, i + 100), seal: null }));

    await waitFor('a reports m', () => blamed.some((d) => idEquals(d, m.deviceId)));
    await lb.commitShared([tag('second')]); // b's own next change: the one m claimed
    await waitFor('a has it, and agrees with b', () => la.counts().tag === 2 && la.digest() === lb.digest());
    assert.deepEqual(la.read((r) => r.rows('SELECT name FROM tag ORDER BY name').map((row) => row[0])), ['real', 'second']);
    assert.equal(la.counts().device ?? 0, devicesBefore, 'no made-up device taken');
    assert.ok(la.parkedCount() <= made.length, 'they wait, at most, for a pairing that never comes');
    assert.ok(!blamed.some((d) => idEquals(d, b.deviceId)), 'b is not blamed for what m claimed in its name');
  });
});
