/**
 * What a library leaves on disk is this user's alone: folders 0700, files
 * 0600 (journal, snapshot, LOCK, torn-tail files, device key), and a data
 * directory that another user owns or can write to is refused before
 * anything is read from or written into it (real files, modes from
 * fs.stat; the umask of this process is set to 022, as on most systems, so
 * a file created without a mode would show as 0644).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineService, DEVICE_KEY_FILE } from '../../src/service/engine-service';
import { UnsafeDirectoryError } from '../../src/store/private-dir';
import { LOCK_FILE } from '../../src/store/lock';
import { insertMany, journalFiles, openStore, tornFiles } from '../support/store-helpers';
import { bundleCli, runCli } from '../support/cli-process';
import { cleanupTempDirs, tempDir } from '../support/tmp';

const posix = process.platform !== 'win32';
const isRoot = posix && process.getuid!() === 0;
const mode = (p: string) => fs.statSync(p).mode & 0o777;
const OTHER_UID = 65534; // "nobody"

describe('file modes and the data directory', function () {
  this.timeout(60_000);
  let umask: number;
  before(function () {
    if (!posix) this.skip();
    umask = process.umask(0o022);
  });
  after(() => {
    if (posix) process.umask(umask);
    cleanupTempDirs();
  });

  it("a library's folders are created 0700 and its journal, snapshot, LOCK and torn-tail files 0600", async () => {
    const dir = path.join(tempDir(), 'libraries', 'lib-1');
    let { store } = await openStore(dir);
    await insertMany(store, 5);
    assert.equal(mode(dir), 0o700, 'library folder');
    assert.equal(mode(path.dirname(dir)), 0o700, 'the folder above it, created with it');
    assert.equal(mode(path.join(dir, LOCK_FILE)), 0o600, 'LOCK');
    for (const j of journalFiles(dir)) assert.equal(mode(j), 0o600, path.basename(j));
    await store.snapshot();
    assert.equal(mode(path.join(dir, 'snapshot.db')), 0o600, 'snapshot');
    for (const j of journalFiles(dir)) assert.equal(mode(j), 0o600, path.basename(j));
    await insertMany(store, 2, 100);
    await store.closeWithoutSnapshot();
    // A torn write after the last record: kept aside on open, in a file of its own.
    const journal = journalFiles(dir).at(-1)!;
    fs.appendFileSync(journal, Buffer.from('garbage from a torn write'));
    ({ store } = await openStore(dir));
    const torn = tornFiles(dir);
    assert.equal(torn.length, 1);
    assert.equal(mode(torn[0]), 0o600, 'torn-tail file');
    await store.close();
  });

  it('a new data directory is 0700 with a 0600 device key; one that others could only read or enter is made 0700', async () => {
    const fresh = path.join(tempDir(), 'deep', 'data');
    let s = await EngineService.start({ dataDir: fresh, network: false });
    try {
      await s.createLibrary({ name: 'Home' });
      assert.equal(mode(fresh), 0o700);
      assert.equal(mode(path.dirname(fresh)), 0o700);
      assert.equal(mode(path.join(fresh, DEVICE_KEY_FILE)), 0o600);
      assert.equal(mode(path.join(fresh, LOCK_FILE)), 0o600);
      assert.equal(mode(path.join(fresh, 'libraries')), 0o700);
      const [libDir] = fs.readdirSync(path.join(fresh, 'libraries'));
      assert.equal(mode(path.join(fresh, 'libraries', libDir)), 0o700);
      assert.equal(mode(path.join(fresh, 'libraries', libDir, 'library.json')), 0o600);
    } finally {
      await s.close();
    }
    const readable = tempDir();
    fs.chmodSync(readable, 0o755);
    const logged: string[] = [];
    s = await EngineService.start({ dataDir: readable, network: false, log: (l) => logged.push(l) });
    await s.close();
    assert.equal(mode(readable), 0o700);
    assert.ok(logged.some((l) => /made the data directory .* private to this user \(mode 755 → 700\)/.test(l)), logged.join('\n'));
  });

  it('refuses a data directory that group or others can write to, touching nothing in it', async () => {
    for (const m of [0o777, 0o775, 0o757, 0o1777]) {
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, 'planted'), 'x');
      fs.chmodSync(dir, m);
      await assert.rejects(EngineService.start({ dataDir: dir, network: false }), (e: unknown) => {
        assert.ok(e instanceof UnsafeDirectoryError, String(e));
        assert.equal(e.code, 'ERR_UNSAFE_DIR');
        assert.match(e.message, new RegExp(`^Refusing to use ${dir}: other users can write to the data directory \\(mode ${(m & 0o7777).toString(8)}\\)\\. .*chmod 700`));
        return true;
      });
      assert.deepEqual(fs.readdirSync(dir), ['planted'], `mode ${m.toString(8)}: nothing created`);
      assert.equal(fs.statSync(dir).mode & 0o7777, m, 'mode left as it was');
    }
  });

  it("refuses a data directory (or a link to one) that another user owns", async function () {
    if (!isRoot) this.skip(); // only root can make a file another user's
    const dir = tempDir();
    fs.chmodSync(dir, 0o700);
    fs.chownSync(dir, OTHER_UID, OTHER_UID);
    await assert.rejects(EngineService.start({ dataDir: dir, network: false }), /Refusing to use .*: the data directory belongs to another user \(uid 65534, this is uid 0\)/);
    assert.deepEqual(fs.readdirSync(dir), []);
    // A link another user owns, even to a folder of ours: they could point it elsewhere at any time.
    const mine = tempDir();
    const link = path.join(tempDir(), 'data');
    fs.symlinkSync(mine, link);
    fs.lchownSync(link, OTHER_UID, OTHER_UID);
    await assert.rejects(EngineService.start({ dataDir: link, network: false }), /the data directory is a symbolic link owned by another user/);
    // Our own link to our own folder is fine.
    const own = path.join(tempDir(), 'data');
    fs.symlinkSync(mine, own);
    await (await EngineService.start({ dataDir: own, network: false })).close();
  });

  it('the CLI says why and exits 6', async () => {
    const cli = await bundleCli();
    const dir = tempDir();
    fs.chmodSync(dir, 0o777);
    for (const args of [['status'], ['init', '--name', 'x'], ['libraries']]) {
      const r = await runCli(cli, [...args, '--data-dir', dir]);
      assert.equal(r.code, 6, `${args.join(' ')}: ${r.stderr}`);
      // Refused by whichever looks first: the check before talking to a service on its socket, or the engine's own.
      assert.match(r.stderr, /^leaderless: Refusing to (use|connect to) .*: other users can write to (the data directory|the control socket's folder) \(mode 777\)\. .*chmod 700/);
    }
    assert.deepEqual(fs.readdirSync(dir), []);
    const help = await runCli(cli, ['--help']);
    assert.match(help.stdout, /6 unsafe/);
  });
});
