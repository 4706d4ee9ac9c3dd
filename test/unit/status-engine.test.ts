/**
 * The status webview's feed against real engines: two EngineServices on a
 * local testnet, one library paired between them, and a StatusSource reading
 * device b through the same method table and events the control socket
 * serves. Checks that what the engine answers (status, peers, activity) and
 * pushes (state, peer, network, activity…) ends up in the snapshot the
 * webview renders: the partner online and ready (its files verified), a
 * change received, the peer log, suspend/resume as paused/suspended and back.
 */
import assert from 'node:assert/strict';
import { Library } from '../../src/engine/library';
import { EngineService } from '../../src/service/engine-service';
import { invokeMethod } from '../../src/service/method-table';
import { serviceMethods } from '../../src/service/methods';
import { SERVICE_EVENTS } from '../../src/service/service-events';
import type { Disposable, EngineClient, EngineConnectionState } from '../../src/vscode/engine-client';
import type { StatusSnapshot } from '../../src/vscode/status/status-model';
import { StatusSource } from '../../src/vscode/status/status-source';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { createTestnet, type Testnet } from '../support/testnet';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const tag = (name: string) => ({ model: 'tag', op: 'create' as const, data: { name, color: null, icon: null, description: null, namespace: null } });

/** An EngineClient over an in-process service: the control server's own method table and events. */
function inProcessClient(service: EngineService): EngineClient & { dispose(): void } {
  const table = serviceMethods(service);
  const listeners = new Set<(name: string, data: unknown) => void>();
  const offs = SERVICE_EVENTS.map((event) =>
    service.on(event, (data: unknown) => {
      // Events reach a real client as JSON.
      const copy = JSON.parse(JSON.stringify(data)) as unknown;
      for (const l of listeners) l(event, copy);
    }),
  );
  return {
    connection: 'owner' as EngineConnectionState,
    connectionError: null,
    onConnection: (): Disposable => ({ dispose() {} }),
    onEvent(l): Disposable {
      listeners.add(l);
      return { dispose: () => listeners.delete(l) };
    },
    async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const out = await invokeMethod(table, method, params, { connection: null });
      if ('error' in out) throw Object.assign(new Error(out.error.message), { code: out.error.code });
      return out.result as T;
    },
    dispose() {
      for (const off of offs) off();
    },
  };
}

describe('status feed against real engines', function () {
  this.timeout(60_000);
  let testnet: Testnet;
  const cleanup: (() => Promise<unknown> | unknown)[] = [];

  before(async () => {
    testnet = await createTestnet(3);
  });
  after(async () => {
    for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
    await testnet?.destroy();
    cleanupTempDirs();
  });

  it('shows the partner, a change received, the peer log, and suspend/resume, from events', async () => {
    const start = async (name: string) => {
      const s = await EngineService.start({ dataDir: tempDir(`lls-status-${name}-`), bootstrap: testnet.bootstrap, log: () => {} });
      cleanup.push(() => s.close());
      return s;
    };
    const a = await start('a');
    const b = await start('b');
    const client = inProcessClient(b);
    cleanup.push(() => client.dispose());
    const errors: string[] = [];
    let snapshots = 0;
    const src = new StatusSource(client, () => snapshots++, { onError: (m, e) => errors.push(`${m}: ${String(e)}`) });
    cleanup.push(() => src.dispose());
    src.setActive(true);

    const until = async (what: string, check: (s: StatusSnapshot) => boolean, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!check(src.snapshot)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; snapshot: ${JSON.stringify(src.snapshot)}`);
        await sleep(50);
      }
      return src.snapshot;
    };

    await until('the engine without a library', (s) => s.engine.available && s.library === null && s.network?.state === 'up');

    const la = await a.createLibrary({ name: 'shared' });
    const lb = await Library.create({ dataDir: b.dataDir, name: 'shared', libraryId: la.id, secret: la.secret });
    await b.addLibrary(lb);
    // Each lists the other as a partner with its network key (what pairing does).
    await la.addPartner(lb.deviceId, 'desk', b.keyPair.publicKey);
    await lb.addPartner(la.deviceId, 'laptop', a.keyPair.publicKey);

    let s = await until('b ready with its partner online', (x) => x.library?.state === 'ready' && x.peers.items.some((p) => p.online && p.state === 'ready'));
    assert.equal(s.library?.name, 'shared');
    assert.equal(s.peers.source, 'peers');
    assert.equal(s.states.find((x) => x.current)?.state, 'ready');
    assert.equal(s.received.available, true);
    // What b holds of a's files is exactly what a signed, and the snapshot says since when.
    s = await until("the partner's files verified", (x) => x.peers.items.some((p) => p.verified?.state === 'verified'));
    assert.equal(typeof s.peers.items[0].verified?.since, 'number');

    await la.commitShared([tag('todo'), tag('done')]);
    s = await until('the tags in the changes received', (x) => x.received.items.some((c) => c.model === 'tag' && c.count >= 1));
    const got = s.received.items.find((c) => c.model === 'tag')!;
    assert.equal(got.name, 'laptop');
    assert.equal(typeof s.log.size, 'number');
    assert.equal(s.refused.available, true);
    assert.equal(s.errors.available, true);

    await b.suspend();
    s = await until('paused and suspended', (x) => x.library?.state === 'paused' && x.network?.state === 'suspended');
    assert.equal(s.states.find((x) => x.current)?.state, 'paused');
    await b.resume();
    await until('ready again', (x) => x.library?.state === 'ready' && x.network?.state === 'up');
    assert.deepEqual(errors, []);
    assert.ok(snapshots > 3);
  });
});
