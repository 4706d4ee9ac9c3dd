import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { idToString } from '../../src/core/ids';
import { Library } from '../../src/engine/library';
import { loadOrCreateDeviceKeyPair } from '../../src/net/keys';
import { ControlClient } from '../../src/service/control-client';
import { controlEndpoint } from '../../src/service/control-endpoint';
import { DEVICE_KEY_FILE } from '../../src/service/engine-service';
import type { StatusReport } from '../../src/service/status';
import { bundleCli, CliProcess, runCli } from '../support/cli-process';
import { cleanupTempDirs, tempDir } from '../support/tmp';
import { createTestnet, type Testnet } from '../support/testnet';


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('leaderless CLI (child processes)', function () {
  this.timeout(90_000);
  let cli: string;
  let testnet: Testnet;
  let bootstrap: string;
  let running: CliProcess[] = [];

  before(async () => {
    [cli, testnet] = await Promise.all([bundleCli(), createTestnet(3)]);
    bootstrap = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',');
  });
  afterEach(async () => {
    for (const p of running.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL');
      await p.exited;
    }
  });
  after(async () => {
    await testnet?.destroy();
    cleanupTempDirs();
  });

  const run = (...args: string[]) => runCli(cli, args);
  const status = async (dataDir: string, ...more: string[]): Promise<StatusReport> => {
    const r = await run('status', '--json', '--data-dir', dataDir, ...more);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as StatusReport;
  };
  function serve(dataDir: string, ...more: string[]): CliProcess {
    const p = new CliProcess(cli, ['serve', '--data-dir', dataDir, '--bootstrap', bootstrap, ...more]);
    running.push(p);
    return p;
  }

  it('--help for the tool and for each command, exit 0', async () => {
    const top = await run('--help');
    assert.equal(top.code, 0);
    for (const c of ['init', 'libraries', 'status', 'serve', 'add-location', 'tag', 'untag', 'tags', 'note', 'album', 'demo', 'help']) assert.match(top.stdout, new RegExp(`^  ${c}\\b`, 'm'));
    assert.match(top.stdout, /Exit codes: 0 ok, 1 error, 2 usage, 3 in use.*4 not found/);
    assert.equal((await run()).code, 0, 'no command shows the help');
    for (const args of [['status', '--help'], ['help', 'status'], ['status', '-h']]) {
      const r = await run(...args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^Usage: leaderless status \[--json\]/);
      assert.match(r.stdout, /--data-dir DIR/);
    }
    const s = await run('serve', '--help');
    assert.match(s.stdout, /SIGINT or\s+SIGTERM/);
    assert.match(s.stdout, /--prune-absent-after DAYS\s+a partner not heard from for this many days stops holding the peer log back \(default 30\)/);
  });

  it('usage mistakes exit 2 with "leaderless: <message>" on stderr; nothing to act on exits 4', async () => {
    const cases: [string[], RegExp][] = [
      [['bogus'], /^leaderless: Unknown command "bogus"\n/],
      [['status', '--bogus'], /^leaderless: Unknown option --bogus for "status"\n/],
      [['libraries', 'extra'], /^leaderless: Unexpected argument "extra" for "libraries"\n/],
      [['status', '--data-dir'], /^leaderless: --data-dir needs a value \(DIR\)\n/],
      [['--bootstrap', 'nowhere', 'status'], /^leaderless: Bad bootstrap node "nowhere"/],
      [['help', 'bogus'], /^leaderless: Unknown command "bogus"\n/],
      [['status', '--json=yes'], /^leaderless: --json takes no value\n/],
      [['serve', '--prune-absent-after', '0'], /^leaderless: --prune-absent-after takes a number of days above 0 \(e\.g\. 30\), not "0"\n/],
      [['serve', '--prune-absent-after=soon'], /^leaderless: --prune-absent-after takes a number of days above 0 \(e\.g\. 30\), not "soon"\n/],
    ];
    for (const [args, re] of cases) {
      const r = await run(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stdout, '');
    }
    const empty = path.join(tempDir(), 'nothing-here');
    const r = await run('status', '--data-dir', empty);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^leaderless: No library in .*nothing-here: run "leaderless init" first\n$/);
    assert.equal(fs.existsSync(empty), false, 'status does not create the data directory');
    const libs = await run('libraries', '--json', '--data-dir', empty);
    assert.equal(libs.code, 0);
    assert.equal(libs.stdout, '[]\n');
  });

  it('serve runs in the foreground; other commands go through its socket with the same output; SIGINT stops it and it exits 0 by itself', async () => {
    const dir = tempDir('lls-cli-serve-');
    const created = await run('init', '--name', 'Home', '--json', '--data-dir', dir);
    assert.equal(created.code, 0, created.stderr);
    const lib = JSON.parse(created.stdout) as { id: string; name: string };
    assert.equal(lib.name, 'Home');

    const local = await status(dir);
    assert.equal(local.service.running, false);
    assert.equal(local.service.pid, null);
    assert.equal(local.service.network.state, 'off');
    assert.equal(local.libraries[0].library, lib.id);
    assert.equal(local.libraries[0].state, 'stopped');
    assert.equal(local.libraries[0].pruneAbsentAfterMs, 30 * 86_400_000, 'the default log horizon');

    const server = serve(dir, '--prune-absent-after', '7');
    await server.waitForStderr(/serving .*: 1 library; control socket .*control\.sock/);
    await server.waitForStderr(/a partner not heard from for 7 days stops holding the peer log back/);
    assert.match(server.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /m, 'log lines are timestamped');

    const remote = await status(dir);
    assert.equal(remote.service.running, true);
    assert.equal(remote.service.pid, server.pid);
    assert.equal(remote.service.network.state, 'up');
    assert.equal(remote.service.publicKey, local.service.publicKey);
    assert.equal(remote.libraries[0].library, lib.id);
    assert.equal(remote.libraries[0].state, 'offline', 'running, no partner online');
    assert.equal(remote.libraries[0].pruneAbsentAfterMs, 7 * 86_400_000, 'the horizon serve was given');
    // The same object, apart from what running changes.
    assert.deepEqual(Object.keys(remote).sort(), Object.keys(local).sort());
    assert.deepEqual(Object.keys(remote.service).sort(), Object.keys(local.service).sort());
    assert.deepEqual(Object.keys(remote.libraries[0]).sort(), Object.keys(local.libraries[0]).sort());

    const text = await run('status', '--data-dir', dir);
    assert.equal(text.code, 0);
    assert.match(text.stdout, new RegExp(`^service: running \\(pid ${server.pid}\\), network up`));
    assert.match(text.stdout, /library "Home" .*\n.*\n  sync: offline\n  partners: none\n  peer log: 0 entries, parked: 0\n  log horizon: a partner not heard from for 7 days stops holding the log back/);

    // A library created while serving is created by the service, which syncs it at once.
    const second = await run('init', '--name', 'Second', '--data-dir', dir);
    assert.equal(second.code, 0, second.stderr);
    await server.waitForStderr(/library "Second" .* open/);
    const libs = await run('libraries', '--data-dir', dir);
    assert.deepEqual(libs.stdout.trim().split('\n').map((l) => l.split('  ')[1]).sort(), ['Home', 'Second']);
    const ambiguous = await run('status', '--data-dir', dir, '--json');
    assert.equal(ambiguous.code, 0, 'status shows every library');
    assert.equal((JSON.parse(ambiguous.stdout) as StatusReport).libraries.length, 2);
    const one = await status(dir, '--library', lib.id.slice(0, 8));
    assert.deepEqual(one.libraries.map((l) => l.name), ['Home']);
    const missing = await run('status', '--data-dir', dir, '--library', 'ffffffff');
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /^leaderless: No library ffffffff in /);

    // A second service on the same data directory is refused, naming the first one's pid.
    const twice = await runCli(cli, ['serve', '--data-dir', dir, '--bootstrap', bootstrap]);
    assert.equal(twice.code, 3);
    assert.match(twice.stderr, new RegExp(`leaderless: A Leaderless Sync service is already running for .* \\(pid ${server.pid}\\)`));

    server.kill('SIGINT');
    const exit = await server.exited;
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.signal, null);
    assert.match(exit.stderr, /SIGINT: stopping/);
    assert.match(exit.stderr, /stopped\n$/);
    assert.doesNotMatch(exit.stderr, /kept the process running/, 'it exited by itself');
    assert.equal(fs.existsSync(controlEndpoint(dir)), false, 'the socket is removed');
    assert.equal((await status(dir)).service.running, false);
  });

  it('item commands give the same output with and without a running service', async () => {
    /** Runs the same session of item commands on a fresh data directory; returns what it printed, ids and folders made generic. */
    async function session(withService: boolean): Promise<string> {
      const dir = tempDir('lls-cli-items-');
      const work = tempDir('lls-cli-work-');
      fs.mkdirSync(path.join(work, 'app', 'src'), { recursive: true });
      fs.writeFileSync(path.join(work, 'app', 'src', 'main.ts'), 'export {};\n');
      fs.writeFileSync(path.join(work, 'app', 'README.md'), '# app\n');
      assert.equal((await run('init', '--name', 'Items', '--data-dir', dir)).code, 0);
      const server = withService ? serve(dir) : null;
      await server?.waitForStderr(/serving/);
      const transcript: string[] = [];
      const step = async (expect: number, ...args: string[]) => {
        const r = await runCli(cli, ['--data-dir', dir, ...args], { cwd: path.join(work, 'app') });
        assert.equal(r.code, expect, `${args.join(' ')}: ${r.stderr}`);
        transcript.push(`$ ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
      };
      await step(0, 'add-location', '.');
      await step(0, 'tag', 'src/main.ts', 'review');
      await step(0, 'tag', 'src/main.ts', 'review');
      await step(0, 'tag', 'README.md', 'docs', '--json');
      await step(0, 'tag', '--workspace', 'github.com/acme/api', 'lib/x.ts', 'review');
      await step(0, 'tags');
      await step(0, 'tags', 'src/main.ts', '--json');
      await step(0, 'tags', '--tag', 'review');
      await step(0, 'untag', 'README.md', 'docs');
      await step(0, 'untag', 'README.md', 'docs');
      await step(4, 'untag', 'README.md', 'no-such-tag');
      await step(0, 'note', 'src/main.ts', 'split this file');
      await step(0, 'note', 'src/main.ts');
      await step(0, 'note', 'src/main.ts', '--json');
      await step(0, 'note', 'src/main.ts', '--clear');
      await step(0, 'note', 'src/main.ts');
      await step(0, 'album', 'create', 'Reading', '--description', 'for the weekend');
      await step(0, 'album', 'add', 'Reading', 'README.md');
      await step(0, 'album', 'add', 'Reading', '--workspace', 'github.com/acme/api', 'docs/intro.md');
      await step(0, 'album', 'show', 'Reading');
      await step(0, 'album', 'list', '--json');
      await step(0, 'album', 'rename', 'Reading', 'Later');
      await step(0, 'album', 'remove', 'Later', 'README.md');
      await step(0, 'album', 'delete', 'Later');
      await step(2, 'album', 'explode');
      await step(2, 'tag', 'src/main.ts');
      await step(4, 'tag', '/definitely/not/indexed', 'x');
      await step(4, 'album', 'show', 'Gone');
      await step(4, 'add-location', path.join(work, 'missing'));
      const st = await status(dir);
      assert.equal(st.service.running, withService);
      assert.equal(st.libraries[0].counts.tag, 2);
      assert.equal(st.libraries[0].counts.location, 1);
      if (server) {
        server.kill('SIGINT');
        assert.equal((await server.exited).code, 0);
      }
      return transcript
        .join('\n')
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
        .replace(/"createdAt":\d+/g, '"createdAt":<t>')
        .split(work)
        .join('<work>')
        .split(dir)
        .join('<dir>');
    }
    const local = await session(false);
    const remote = await session(true);
    assert.equal(remote, local);
    // What it printed, spot-checked.
    assert.match(local, /Indexed <work>\/app: 3 entries/);
    assert.match(local, /Tagged <work>\/app\/src\/main.ts "review" \(new tag\)/);
    assert.match(local, /Already tagged <work>\/app\/src\/main.ts "review"/);
    assert.match(local, /\$ tags → 0\ndocs\t1\t<id>\nreview\t2\t<id>\n/);
    assert.match(local, /\$ tags --tag review → 0\napp:src\/main.ts\ngithub.com\/acme\/api:lib\/x.ts\n/);
    assert.match(local, /\$ note src\/main.ts → 0\nsplit this file\n/);
    assert.match(local, /\$ album show Reading → 0\napp:README.md\ngithub.com\/acme\/api:docs\/intro.md\n/);
    assert.match(local, /leaderless: No tag named "no-such-tag"/);
    assert.match(local, /leaderless: \/definitely\/not\/indexed is not inside any indexed folder/);
  });

  it('join reads the code from stdin when it is not on the command line (where other users see it), and says so in --help', async () => {
    const help = await run('join', '--help');
    assert.match(help.stdout, /^Usage: leaderless join \[CODE\]/);
    assert.match(help.stdout, /Without CODE, the code is read from stdin[^]*process list/);
    const none = await runCli(cli, ['join', '--data-dir', tempDir('lls-cli-j-')], { input: '\n' });
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /^leaderless: No invite code: give it as CODE, type it when asked, or send it on stdin/);

    const [dirA, dirB] = [tempDir('lls-cli-ja-'), tempDir('lls-cli-jb-')];
    assert.equal((await run('init', '--name', 'Home', '--data-dir', dirA)).code, 0);
    const a = serve(dirA);
    await a.waitForStderr(/serving/);
    const invite = await run('invite', '--no-wait', '--json', '--data-dir', dirA);
    assert.equal(invite.code, 0, invite.stderr);
    const { code } = JSON.parse(invite.stdout) as { code: string };
    const joined = await runCli(cli, ['join', '--no-wait', '--json', '--data-dir', dirB, '--bootstrap', bootstrap], { input: `  ${code.toLowerCase()}  \nanything after the first line is not read\n` });
    assert.equal(joined.code, 0, joined.stderr);
    assert.equal((JSON.parse(joined.stdout) as { name: string }).name, 'Home');
    assert.doesNotMatch(joined.stderr, /kept the process running/, 'reading stdin leaves nothing running');
    const members = await run('members', '--json', '--data-dir', dirA);
    assert.equal((JSON.parse(members.stdout) as unknown[]).length, 2);
  });

  it('two serve processes whose libraries list each other converge; SIGTERM stops both', async () => {
    const [dirA, dirB] = [tempDir('lls-cli-a-'), tempDir('lls-cli-b-')];
    // What pairing will do, done by hand: same library id and secret, each lists the other with its key.
    const keyA = loadOrCreateDeviceKeyPair(path.join(dirA, DEVICE_KEY_FILE));
    const keyB = loadOrCreateDeviceKeyPair(path.join(dirB, DEVICE_KEY_FILE));
    const la = await Library.create({ dataDir: dirA, name: 'shared', deviceName: 'a', keyPair: keyA });
    const lb = await Library.create({ dataDir: dirB, name: 'shared', deviceName: 'b', libraryId: la.id, secret: la.secret, keyPair: keyB });
    await la.addPartner(lb.deviceId, 'b', keyB.publicKey);
    await lb.addPartner(la.deviceId, 'a', keyA.publicKey);
    await la.commitShared([{ model: 'tag', op: 'create', data: { name: 'from a', color: null, icon: null, description: null, namespace: null } }]);
    const [devA, devB] = [idToString(la.deviceId), idToString(lb.deviceId)];
    await la.close();
    await lb.close();

    const [a, b] = [serve(dirA), serve(dirB)];
    await Promise.all([a.waitForStderr(/serving/), b.waitForStderr(/serving/)]);
    // Poll b's service over its socket from this process until it holds a's tag and both are ready.
    const client = await ControlClient.connect(controlEndpoint(dirB));
    try {
      for (;;) {
        const r = await client.call<StatusReport>('status', { digest: false });
        const l = r.libraries[0];
        if (l.counts.tag === 1 && l.state === 'ready' && l.partners[0]?.ready) break;
        await sleep(100);
      }
    } finally {
      await client.close();
    }
    const [sa, sb] = [await status(dirA), await status(dirB)];
    assert.equal(sb.libraries[0].digest, sa.libraries[0].digest, 'same canonical digest on both');
    assert.deepEqual(sa.libraries[0].partners.map((p) => [p.device, p.name, p.online]), [[devB, 'b', true]]);
    assert.deepEqual(sb.libraries[0].partners.map((p) => [p.device, p.name, p.online]), [[devA, 'a', true]]);
    assert.equal(sb.libraries[0].backfilled, true);
    assert.match(b.stderr, /partner a online/);

    // A tag set through a's service reaches b live.
    const tagged = await run('tag', '--data-dir', dirA, '--workspace', 'github.com/acme/api', 'src/a.ts', 'live');
    assert.equal(tagged.code, 0, tagged.stderr);
    const clientB = await ControlClient.connect(controlEndpoint(dirB));
    try {
      while ((await clientB.call<unknown[]>('taggedItems', { tag: 'live' }).catch(() => [])).length === 0) await sleep(50);
    } finally {
      await clientB.close();
    }
    const onB = await run('tags', '--data-dir', dirB, '--tag', 'live');
    assert.equal(onB.stdout, 'github.com/acme/api:src/a.ts\n');

    a.kill('SIGTERM');
    b.kill('SIGTERM');
    for (const p of [a, b]) {
      const exit = await p.exited;
      assert.equal(exit.code, 0, exit.stderr);
      assert.match(exit.stderr, /SIGTERM: stopping/);
      assert.doesNotMatch(exit.stderr, /kept the process running/);
    }
  });
});
