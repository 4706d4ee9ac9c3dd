/**
 * The control methods for partners and sync activity (methods/peers.ts,
 * activity.ts), called through the method table, on two services paired
 * over a local testnet (never the public DHT).
 */
import assert from 'node:assert/strict';
import { DEFAULT_MAX_CLOCK_DRIFT_MS } from '../../src/core/hlc';
import { idToString } from '../../src/core/ids';
import { ENTRY_KIND } from '../../src/models/entry';
import { Library } from '../../src/engine/library';
import { EngineService } from '../../src/service/engine-service';
import { invokeMethod, type MethodTable } from '../../src/service/method-table';
import { serviceMethods } from '../../src/service/methods';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { createTestnet, type Testnet } from '../support/testnet';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(25);
  }
}

const tag = (name: string) => ({ model: 'tag', op: 'create' as const, data: { name, color: null, icon: null, description: null, namespace: null } });

describe('UI control methods: peers, backfill, resync, pause, activity', function () {
  this.timeout(120_000);
  let testnet: Testnet;
  let a: EngineService;
  let b: EngineService;
  let la: Library;
  let lb: Library;
  let ma: MethodTable;
  let mb: MethodTable;
  /** How far b's clock runs ahead (ms). */
  let skew = 0;

  const call = async (m: MethodTable, method: string, params: Record<string, unknown> = {}): Promise<any> => {
    const out = await invokeMethod(m, method, params, { connection: null });
    if ('error' in out) throw Object.assign(new Error(out.error.message), { code: out.error.code });
    return out.result;
  };
  const fails = async (m: MethodTable, method: string, params: Record<string, unknown>, code: string, message?: RegExp) => {
    const out = await invokeMethod(m, method, params, { connection: null });
    assert.ok('error' in out, `${method} ${JSON.stringify(params)} should fail with ${code}`);
    assert.equal(out.error.code, code, out.error.message);
    if (message) assert.match(out.error.message, message);
  };
  const peerOf = async (m: MethodTable) => (await call(m, 'peers'))[0];

  before(async () => {
    testnet = await createTestnet(3);
    a = await EngineService.start({ dataDir: tempDir('lls-peers-a-'), bootstrap: testnet.bootstrap, log: (l) => process.env.SVC_DEBUG && console.log(`[a] ${l}`) });
    b = await EngineService.start({ dataDir: tempDir('lls-peers-b-'), bootstrap: testnet.bootstrap, log: (l) => process.env.SVC_DEBUG && console.log(`[b] ${l}`) });
    ma = serviceMethods(a);
    mb = serviceMethods(b);
    la = await a.createLibrary({ name: 'peers', deviceName: 'alpha' });
    lb = await Library.create({ dataDir: b.dataDir, name: 'peers', libraryId: la.id, secret: la.secret, deviceName: 'beta', now: () => Date.now() + skew });
    await b.addLibrary(lb);
    await la.addPartner(lb.deviceId, 'beta', b.keyPair.publicKey);
    await lb.addPartner(la.deviceId, 'alpha', a.keyPair.publicKey);
    await waitFor('both ready', async () => (await peerOf(ma))?.state === 'ready' && (await peerOf(mb))?.state === 'ready');
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await testnet?.destroy();
    cleanupTempDirs();
  });

  it("peers and status: a synced partner's files here are verified, since when it was first found so", async () => {
    await waitFor('a holds b exactly as b signed', async () => (await peerOf(ma)).verified?.state === 'verified');
    const v = (await peerOf(ma)).verified;
    assert.equal(typeof v.since, 'number');
    assert.ok(v.since <= Date.now() && v.since > Date.now() - 120_000, String(v.since));
    assert.ok(v.rows >= 1, 'its device row at least');
    assert.equal(v.sealedRows, v.rows);
    const st = (await call(ma, 'status', { digest: false })).libraries[0];
    assert.deepEqual(st.partners[0].verified, v);
    assert.deepEqual(st.verified, { owners: 1, verified: 1 });
  });

  it('peers: each partner with its state, link, last contact, backfill and log lag', async () => {
    const p = await peerOf(ma);
    assert.equal(p.device, idToString(lb.deviceId));
    assert.equal(p.name, 'beta');
    assert.equal(p.publicKey, b.publicKey);
    assert.equal(p.online, true);
    assert.equal(p.ready, true);
    assert.equal(p.paused, false);
    assert.equal(typeof p.lastSeen, 'number');
    assert.ok(Math.abs(p.lastSeen - Date.now()) < 5000);
    assert.equal(typeof p.lag, 'number');
    // b backfilled from a (a's device record, at least): a served it.
    const fromA = await peerOf(mb);
    assert.ok(fromA.backfill === null || fromA.backfill.received <= fromA.backfill.announced);

    // The devices list sees the partner online too.
    const devices = await call(ma, 'devices');
    assert.deepEqual(
      devices.map((d: any) => [d.name, d.self, d.online]),
      [
        ['alpha', true, true],
        ['beta', false, true],
      ],
    );
  });

  it('activity: changes sent and received per partner and model, an event at most 4 times a second', async () => {
    let events = 0;
    const off = b.on('activity', (e) => {
      assert.equal(e.library, idToString(la.id));
      events++;
    });
    try {
      for (let i = 0; i < 20; i++) await la.commitShared([tag(`t${i}`)]);
      await waitFor('b has the tags', () => lb.counts().tag === 20);
      await waitFor('b reports them received', async () => (await call(mb, 'activity')).received.some((r: any) => r.model === 'tag' && r.count === 20));
      const got = await call(mb, 'activity');
      const r = got.received.find((x: any) => x.model === 'tag');
      assert.equal(r.device, idToString(la.deviceId));
      assert.equal(r.name, 'alpha');
      assert.equal(typeof r.at, 'number');
      const sent = (await call(ma, 'activity')).sent.filter((x: any) => x.model === 'tag');
      assert.equal(
        sent.reduce((n: number, x: any) => n + x.count, 0),
        20,
        JSON.stringify(sent),
      );
      assert.equal(sent[0].name, 'beta');
      await sleep(300);
      assert.ok(events >= 1 && events <= 4, `${events} activity events`);
      assert.equal(typeof got.log.size, 'number');
      assert.ok('horizon' in got.log);
      assert.deepEqual((await call(mb, 'activity', { limit: 1 })).received.length, 1);
      await fails(mb, 'activity', { limit: 'lots' }, 'ERR_INVALID_PARAMS', /limit/);
    } finally {
      off();
    }
  });

  it('peerPause closes the link and keeps it closed; changes meanwhile are lag; peerResume catches up', async () => {
    const peerEvents: any[] = [];
    const off = a.on('peer', (e) => peerEvents.push(e));
    try {
      assert.deepEqual(await call(ma, 'peerPause', { device: 'beta' }), {});
      assert.ok(peerEvents.some((e) => e.paused === true && e.device === idToString(lb.deviceId)));
      let p = await peerOf(ma);
      assert.equal(p.state, 'paused');
      assert.equal(p.paused, true);
      await waitFor('b sees a offline', async () => (await peerOf(mb)).state === 'offline');
      await la.commitShared([tag('while paused 1'), tag('while paused 2')]);
      await waitFor('a counts 2 changes b has not acknowledged', async () => (await peerOf(ma)).lag >= 2);
      // The log is held back for it until its last contact + the horizon (30 days by default), in peers and in status.
      const held = la.partners()[0];
      const until = (held.lastSeen ?? held.addedAt) + 30 * 86_400_000;
      assert.equal((await peerOf(ma)).holdsLogUntil, until);
      const st = (await call(ma, 'status', { digest: false })).libraries[0];
      assert.equal(st.pruneAbsentAfterMs, 30 * 86_400_000);
      assert.deepEqual([st.partners[0].lag, st.partners[0].holdsLogUntil], [(await peerOf(ma)).lag, until]);
      // Stays away: b keeps dialling, a refuses it.
      await sleep(2500);
      p = await peerOf(ma);
      assert.equal(p.online, false);
      assert.equal(lb.counts().tag, 20);
      await fails(ma, 'backfillFrom', { device: 'beta' }, 'ERR_PEER_OFFLINE', /beta/);

      assert.deepEqual(await call(ma, 'peerResume', { device: idToString(lb.deviceId) }), {});
      await waitFor('b catches up', () => lb.counts().tag === 22);
      await waitFor('ready again, nothing unacknowledged', async () => {
        const q = await peerOf(ma);
        return q.state === 'ready' && q.lag === 0 && !q.paused;
      });
    } finally {
      off();
    }
  });

  it('backfillFrom and resync pull everything again and lose nothing', async () => {
    const progress: any[] = [];
    const off = b.on('progress', (e) => progress.push(e.progress));
    try {
      assert.deepEqual(await call(mb, 'backfillFrom', { device: 'alpha' }), {});
      await waitFor('the backfill round ends', async () => progress.some((x) => x.done) && (await peerOf(mb)).state === 'ready' && lb.backfilled);
      assert.equal(lb.counts().tag, 22);
      assert.deepEqual(await call(ma, 'resync'), {});
      await waitFor('the resync ends', async () => la.backfilled && (await peerOf(ma)).state === 'ready');
      await waitFor('same digest', () => la.digest() === lb.digest());
      const served = (await peerOf(mb)).backfill;
      assert.ok(served && served.received >= 1 && served.received <= served.announced, JSON.stringify(served));
    } finally {
      off();
    }
  });

  it('a suspended service shows every partner paused, and offline on the other side', async () => {
    await b.suspend();
    try {
      const p = await peerOf(mb);
      assert.equal(p.state, 'paused');
      assert.equal(p.paused, false, 'not paused one by one');
      await waitFor('a sees b offline', async () => (await peerOf(ma)).state === 'offline');
      assert.deepEqual(await call(mb, 'resync'), {}, 'recorded for when sync runs again');
    } finally {
      await b.resume();
    }
    await waitFor('b resyncs once back', async () => (await peerOf(mb)).state === 'ready' && lb.backfilled);

    // A partner paused one by one stays paused across suspend and resume.
    await call(mb, 'peerPause', { device: 'alpha' });
    await b.suspend();
    await b.resume();
    await sleep(1500);
    assert.deepEqual(
      await peerOf(mb).then((x: any) => [x.state, x.paused, x.online]),
      ['paused', true, false],
    );
    await call(mb, 'peerResume', { device: 'alpha' });
    await waitFor('linked again', async () => (await peerOf(mb)).state === 'ready');
  });

  it('refuses unknown devices and bad params clearly', async () => {
    await fails(ma, 'backfillFrom', { device: 'gamma' }, 'ERR_NOT_FOUND', /gamma/);
    await fails(ma, 'peerPause', { device: 'ffff0000' }, 'ERR_NOT_FOUND');
    await fails(ma, 'peerResume', {}, 'ERR_INVALID_PARAMS', /device/);
    await fails(ma, 'peerPause', { device: 42 }, 'ERR_INVALID_PARAMS', /device/);
    await fails(ma, 'peers', { library: 'nope' }, 'ERR_NOT_FOUND');
    // This device is not its own partner.
    await fails(ma, 'peerPause', { device: 'alpha' }, 'ERR_NOT_FOUND');
  });

  it('activity lists stamps refused for clock drift, with the skew and the partner that sent them', async () => {
    skew = DEFAULT_MAX_CLOCK_DRIFT_MS + 600_000;
    await lb.commitShared([tag('from the future')]);
    await waitFor('a refuses it', async () => (await call(ma, 'activity')).refused.length > 0);
    const r = (await call(ma, 'activity')).refused[0];
    assert.equal(r.device, idToString(lb.deviceId));
    assert.equal(r.name, 'beta');
    assert.equal(r.origin, idToString(lb.deviceId));
    assert.ok(r.skewMs > DEFAULT_MAX_CLOCK_DRIFT_MS && r.skewMs < DEFAULT_MAX_CLOCK_DRIFT_MS + 700_000, String(r.skewMs));
    assert.match(r.reason, /ahead/);
    assert.ok((await call(ma, 'activity')).errors.length >= 0);
  });
});

describe("UI control methods: whether each partner's files held here are exactly what it signed", function () {
  this.timeout(60_000);
  after(cleanupTempDirs);

  const call = async (m: MethodTable, method: string, params: Record<string, unknown> = {}): Promise<any> => {
    const out = await invokeMethod(m, method, params, { connection: null });
    if ('error' in out) throw Object.assign(new Error(out.error.message), { code: out.error.code });
    return out.result;
  };
  const location = (lib: Library, name: string) => ({ data: { device: lib.deviceId, volume: null, path: `/${name}`, name, workspace_key: name, entry_count: 0, total_bytes: 0 } });

  it('status and peers say verified (and since when), behind, unproven, mismatch or none per partner, and count the verified', async () => {
    const svc = await EngineService.start({ dataDir: tempDir('lls-proofs-svc-'), network: false, log: () => {} });
    const owners: Library[] = [];
    try {
      const lib = await svc.createLibrary({ name: 'proofs', deviceName: 'me' });
      const owner = async (name: string) => {
        const o = await Library.create({ dataDir: tempDir(`lls-proofs-${name}-`), name: 'proofs', libraryId: lib.id, secret: lib.secret, deviceName: name });
        owners.push(o);
        await o.ready();
        await lib.addPartner(o.deviceId, name);
        return o;
      };
      const deviceRow = (o: Library) => lib.applyState('device', o.stateSince('device', o.deviceId, null, 10), { owner: o.deviceId, through: o.completeThrough(o.deviceId, 'device') });

      // good: its device row and a location, and its seal of exactly those.
      const good = await owner('good');
      await good.commitDeviceOwned('location', [location(good, 'g')]);
      await deviceRow(good);
      await lib.applyState('location', good.stateSince('location', good.deviceId, null, 10));
      const before = Date.now();
      assert.deepEqual((await lib.takeSeals([good.ownSeal()!])).refused, []);
      // forged: it has two locations; only the later one reaches this device (with the seal of both), so what is held ends where
      // the seal does and is not what it states.
      const forged = await owner('forged');
      const [, second] = await forged.commitDeviceOwned('location', [location(forged, 'f1'), location(forged, 'f2')]);
      await deviceRow(forged);
      await lib.applyState('location', [second]);
      await lib.takeSeals([forged.ownSeal()!]);
      // slow: signed a location and an entry; only its device row is here.
      const slow = await owner('slow');
      const [loc] = await slow.commitDeviceOwned('location', [location(slow, 's')]);
      await slow.commitDeviceOwned('entry', [{ data: { location: loc.uuid, parent: null, name: 'f', kind: ENTRY_KIND.file, size: 1, mtime: 0 } }]);
      await deviceRow(slow);
      await lib.takeSeals([slow.ownSeal()!]);
      // unsigned: its device row, no seal.
      const unsigned = await owner('unsigned');
      await deviceRow(unsigned);
      // fresh: paired, nothing of it here.
      await owner('fresh');

      const m = serviceMethods(svc);
      const byName = (list: any[]) => Object.fromEntries(list.map((p) => [p.name, p.verified]));
      const peers = byName(await call(m, 'peers'));
      const st = (await call(m, 'status', { digest: false })).libraries[0];
      assert.deepEqual(byName(st.partners), peers, 'status and peers say the same');

      assert.equal(peers.good.state, 'verified');
      assert.ok(peers.good.since >= before && peers.good.since <= Date.now(), `since ${peers.good.since}`);
      assert.deepEqual({ ...peers.good, since: 0 }, { state: 'verified', since: 0, rows: 2, sealedRows: 2 });
      assert.deepEqual(peers.forged, { state: 'mismatch', since: null, rows: 2, sealedRows: 3 });
      assert.deepEqual(peers.slow, { state: 'behind', since: null, rows: 1, sealedRows: 3 });
      assert.deepEqual(peers.unsigned, { state: 'unproven', since: null, rows: 1, sealedRows: null });
      assert.deepEqual(peers.fresh, { state: 'none', since: null, rows: 0, sealedRows: null });
      // This device's own rows are not counted: the other devices with rows or a seal here, and those verified.
      assert.deepEqual(st.verified, { owners: 4, verified: 1 });

      // Verified stays verified, since the same time, when read again; the forged one once what it signed is all here.
      await lib.applyState('location', forged.stateSince('location', forged.deviceId, null, 10));
      const again = byName(await call(m, 'peers'));
      assert.equal(again.good.since, peers.good.since);
      assert.equal(again.forged.state, 'verified');
      assert.deepEqual((await call(m, 'status', { digest: false })).libraries[0].verified, { owners: 4, verified: 2 });
    } finally {
      for (const o of owners) await o.close();
      await svc.close();
    }
  });
});
