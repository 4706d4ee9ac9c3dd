/**
 * Issue 11, defect 1, as a user meets it: three `leaderless serve` peers of
 * one library on a local testnet; one device's data directory is copied, the
 * device writes tags and rows, then goes back to the copy. It must get back
 * what it wrote after the copy from its peers, and what it writes next must
 * reach every peer (before the fix, those writes were numbered with sequence
 * numbers the peers already held and were dropped by every peer as stale,
 * silently and for good). Nothing here reaches the public DHT.
 *
 * The copy is a cold one: the device's `serve` is stopped cleanly (SIGTERM,
 * exit 0) before the directory is copied, as a backup tool or a disk image
 * of a stopped machine would see it. Copying the files of a running service
 * file by file may catch a snapshot and a journal from different moments (a
 * torn or inconsistent copy); whether the store opens such a copy is a
 * durability question for another test, not this one's.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InviteInfo } from '../../src/service/pairing-desk';
import type { StatusReport } from '../../src/service/status';
import { CliProcess, runCli } from '../support/cli-process';
import { cliTestnet, controlCall, libraryStatus } from '../support/cli-testnet';
import { checkout as checkoutOf } from '../support/checkout';
import { tempDir } from '../support/tmp';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const WAIT_MS = 60_000;
const WORKSPACE = 'github.com/acme/restore';

/** A checkout of WORKSPACE with `files` (relative path → content). */
const checkout = (files: Record<string, string>) => checkoutOf('git@github.com:acme/restore.git', files);

/** Copies a stopped device's data directory (its control socket, if one was left, is not data). */
function copyDataDir(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true, filter: (src) => !fs.lstatSync(src).isSocket() });
}

interface TagRow {
  name: string;
  count: number;
}

describe('real peers: a device restored from a copy of its data directory (issue 11)', function () {
  this.timeout(180_000);
  const net = cliTestnet();

  const ok = async (...args: string[]) => {
    const r = await runCli(net.cli, [...args, '--bootstrap', net.bootstrap]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  async function serve(dataDir: string, ...more: string[]): Promise<CliProcess> {
    const p = new CliProcess(net.cli, ['serve', '--data-dir', dataDir, '--bootstrap', net.bootstrap, ...more]);
    net.procs.push(p);
    serving.set(dataDir, p);
    await p.waitForStderr(/serving /);
    return p;
  }

  /** Stops a service the way Ctrl-C does, and checks it stopped cleanly. */
  async function stop(p: CliProcess): Promise<void> {
    p.kill('SIGTERM');
    const r = await p.exited;
    assert.equal(r.code, 0, `serve did not stop cleanly:\n${r.stderr}`);
  }

  /** Tag name → number of items carrying it. */
  const tagCounts = async (dataDir: string): Promise<Record<string, number>> =>
    Object.fromEntries((await controlCall<TagRow[]>(dataDir, 'tags')).map((t) => [t.name, t.count]));

  const names = new Map<string, string>();
  /** Data directory → its latest `serve`. */
  const serving = new Map<string, CliProcess>();
  /**
   * Waits (bounded) for `fn` to hold; on timeout, fails with every device's
   * `status --json`, `tags --json` and the end of its service's log.
   */
  async function until(what: string, dirs: readonly string[], fn: () => Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await fn().catch(() => false)) return;
      await sleep(250);
    }
    const reports = await Promise.all(
      dirs.map(async (d) => {
        const r = await runCli(net.cli, ['status', '--json', '--data-dir', d]);
        const tags = await runCli(net.cli, ['tags', '--json', '--data-dir', d]);
        const log = (serving.get(d)?.stderr ?? '').split('\n').slice(-40).join('\n');
        return `--- ${names.get(d) ?? d}: status --json (exit ${r.code})\n${r.stdout}${r.stderr}--- tags --json\n${tags.stdout}${tags.stderr}--- serve log (end)\n${log}`;
      }),
    );
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${reports.join('\n')}`);
  }

  /** Every device ready, every partner online, the same digest everywhere. */
  const converged = async (dirs: readonly string[]): Promise<boolean> => {
    const all = await Promise.all(dirs.map((d) => libraryStatus(d, true)));
    return all.every((s) => s.state === 'ready' && s.partners.length === dirs.length - 1 && s.partners.every((p) => p.online) && s.parked === 0 && s.digest === all[0].digest);
  };

  const hasTags = (dirs: readonly string[], want: Record<string, number>) => async () => {
    for (const d of dirs) {
      const have = await tagCounts(d);
      for (const [name, n] of Object.entries(want)) if (have[name] !== n) return false;
    }
    return true;
  };

  const entries = async (dataDir: string) => (await libraryStatus(dataDir)).counts.entry;

  /** `tags --json` on a device, through the CLI, as a tag name → count map. */
  const cliTags = async (dataDir: string): Promise<Record<string, number>> =>
    Object.fromEntries((JSON.parse(await ok('tags', '--json', '--data-dir', dataDir)) as TagRow[]).map((t) => [t.name, t.count]));

  const FILES = { 'src/f1.ts': '1', 'src/f2.ts': '2', 'src/f3.ts': '3', 'src/f4.ts': '4', 'src/f5.ts': '5', 'README.md': 'r' };
  const PRE = { 'pre-1': 1, 'pre-2': 1, 'pre-3': 1, 'pre-4': 1, 'pre-5': 1 };

  /**
   * Steps 1–3: C creates the library and indexes a folder, A and B join by
   * code; C's directory is copied (cold); then C tags five files and adds a
   * file to the folder (shared changes and device-owned rows written after
   * the copy) and A and B get them.
   */
  async function beforeRestore() {
    const [dirA, dirB, dirC, backup] = [tempDir('lls-a-'), tempDir('lls-b-'), tempDir('lls-c-'), tempDir('lls-c-backup-')];
    names.set(dirA, 'A').set(dirB, 'B').set(dirC, 'C');
    const all = [dirA, dirB, dirC];
    const ws = checkout(FILES);
    await ok('init', '--name', 'Restored', '--data-dir', dirC);
    let c: CliProcess;
    [, , c] = await Promise.all([serve(dirA), serve(dirB), serve(dirC)]);
    await ok('add-location', ws, '--data-dir', dirC); // src, 5 files, README.md
    // One after the other: a change C commits while its link to a partner is
    // coming up (here, the member record of a device pairing at the same
    // moment) may reach that partner only with the next Hello, 30 s later.
    for (const [joiner, joined] of [[dirA, [dirA, dirC]], [dirB, all]] as const) {
      const info = JSON.parse(await ok('invite', '--no-wait', '--json', '--data-dir', dirC)) as InviteInfo;
      await ok('join', info.code, '--no-wait', '--data-dir', joiner);
      await until(`${names.get(joiner)} paired and converged`, joined, async () => (await converged(joined)) && (await entries(joiner)) === 7);
    }

    // Step 2: the backup. Cold: the service is stopped, then the directory copied.
    await stop(c);
    copyDataDir(dirC, backup);
    c = await serve(dirC);
    await until('C back with its partners', all, () => converged(all));

    // Step 3: writes after the backup, both kinds.
    for (let i = 1; i <= 5; i++) await ok('tag', path.join(ws, `src/f${i}.ts`), `pre-${i}`, '--data-dir', dirC);
    fs.writeFileSync(path.join(ws, 'src/after-backup.ts'), 'new');
    await ok('add-location', ws, '--data-dir', dirC);
    assert.equal(await entries(dirC), 8);
    await until('A and B have the five tags and the new entry', all, async () => (await hasTags([dirA, dirB], PRE)()) && (await entries(dirA)) === 8 && (await entries(dirB)) === 8 && (await converged(all)));
    return { dirA, dirB, dirC, backup, all, ws, c };
  }

  /** Step 4: C goes back to the copy. */
  async function restore(c: CliProcess, dirC: string, backup: string): Promise<void> {
    await stop(c);
    copyDataDir(backup, dirC);
  }

  /** Step 5 (and its check): after the restore C tags one file three times and indexes one more file; every device gets all of it. */
  async function writeAfterRestore(ws: string, dirC: string): Promise<Record<string, number>> {
    const file = path.join(ws, 'src/after-backup.ts');
    for (const t of ['post-a', 'post-b', 'post-c']) await ok('tag', file, t, '--data-dir', dirC);
    fs.writeFileSync(path.join(ws, 'src/after-restore.ts'), 'newer');
    await ok('add-location', ws, '--data-dir', dirC);
    return { ...PRE, 'post-a': 1, 'post-b': 1, 'post-c': 1 };
  }

  async function checkEverywhere(all: readonly string[], want: Record<string, number>): Promise<void> {
    await until('every device has every tag and entry, digests equal', all, async () => {
      for (const d of all) if ((await entries(d)) !== 9) return false;
      return (await hasTags(all, want)()) && (await converged(all));
    });
    const digests = await Promise.all(
      all.map(async (d) => {
        const [status, tags, tagged] = await Promise.all([
          ok('status', '--json', '--data-dir', d),
          cliTags(d),
          ok('tags', '--tag', 'post-b', '--json', '--data-dir', d),
        ]);
        assert.deepEqual(tags, want, `tags --json on ${names.get(d)}`);
        const items = JSON.parse(tagged) as { workspaceKey: string; path: string }[];
        assert.deepEqual(
          items.map((i) => `${i.workspaceKey}:${i.path}`),
          [`${WORKSPACE}:src/after-backup.ts`],
          `the file tagged after the restore, on ${names.get(d)}`,
        );
        return (JSON.parse(status) as StatusReport).libraries[0].digest;
      }),
    );
    assert.ok(digests[0] && digests.every((x) => x === digests[0]), `status --json digests: ${digests.join(' ')}`);
  }

  it('a restored device catches up its own tags and rows from its peers, and every peer gets what it writes next', async () => {
    const { dirA, dirB, dirC, backup, all, ws, c } = await beforeRestore();
    await restore(c, dirC, backup);
    assert.deepEqual(await cliTags(dirC), {}, 'the copy predates the five tags');
    await serve(dirC);
    // Step 4: C gets back its own five tags and the row it indexed after the copy, from A and B.
    await until('C caught up its own tags and rows', all, async () => (await hasTags([dirC], PRE)()) && (await entries(dirC)) === 8 && (await converged(all)));
    assert.deepEqual(await cliTags(dirC), PRE, 'tags --json on C after the restore');

    // Step 5: C writes again; A and B get all of it.
    const want = await writeAfterRestore(ws, dirC);
    await checkEverywhere([dirA, dirB, dirC], want);
  });

  it('a restored device that writes before it reconnects to anyone: everything converges, its pre-restore tags included', async () => {
    const { dirA, dirB, dirC, backup, all, ws, c } = await beforeRestore();
    await restore(c, dirC, backup);
    // Offline: no peer can tell C where it stands before these writes are made.
    const offline = await serve(dirC, '--offline');
    const want = await writeAfterRestore(ws, dirC);
    assert.deepEqual(await cliTags(dirC), { 'post-a': 1, 'post-b': 1, 'post-c': 1 }, 'offline, C has only what it wrote since the restore');
    // Its rescan did not know the entry it made for src/after-backup.ts before the restore: it made another.
    assert.equal(await entries(dirC), 9);
    await stop(offline);
    await serve(dirC);
    await until('the tags from before the restore and from offline, on every device', all, hasTags(all, want));
    // C's own rows: C's newest entry stamp (its offline scan) is above the
    // newest its peers hold, so it pulls nothing back at once; the peers take
    // its new rows, and the next Hello of either (anti-entropy, every 30 s)
    // shows both complete to the same newest stamp with different sums: C
    // pulls and merges the whole set, getting back the row it wrote before the
    // restore. Hence the longer bound.
    await until('every device has every tag, digests equal', all, async () => (await hasTags(all, want)()) && (await converged(all)), 30_000 + WAIT_MS);
    // Equal digests: C got back the entry it wrote for src/after-backup.ts
    // before the restore, besides the one its offline scan made, so every
    // device holds both (C's, both live). C's next scan keeps one and deletes
    // the other, everywhere.
    await ok('add-location', ws, '--data-dir', dirC);
    await checkEverywhere([dirA, dirB, dirC], want);
  });
});
