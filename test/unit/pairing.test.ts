import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { idEquals, newId } from '../../src/core/ids';
import { InviteCodeError, PairingError } from '../../src/net/errors';
import { deriveInviteKeys, INVITE_CODE_BITS, newInviteCode, parseInviteCode } from '../../src/net/invite-code';
import { decodeMessage, encodeMessage, Invite, joinWithCode, joinWithKeys, type DeviceCard, type InviteHost } from '../../src/net/pairing';
import { createTestnet, type Testnet } from '../support/testnet';


const cardOf = (name: string): DeviceCard => ({ device: newId(), name, publicKey: new Uint8Array(randomBytes(32)) });

describe('invite codes', () => {
  it('are 12 symbols shown as XXXX-XXXX-XXXX with at least 40 bits of entropy, and differ each time', () => {
    const codes = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const code = newInviteCode();
      assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      codes.add(code);
    }
    assert.equal(codes.size, 200);
    assert.ok(INVITE_CODE_BITS >= 40);
  });

  it('read back forgivingly: case, spaces, dashes, I/L for 1 and O for 0', () => {
    const code = newInviteCode();
    const canonical = code.replace(/-/g, '');
    assert.equal(parseInviteCode(code), canonical);
    assert.equal(parseInviteCode(` ${code.toLowerCase().replace(/-/g, ' ')} `), canonical);
    const withOnes = canonical.replace(/1/g, 'l').replace(/0/g, 'o');
    assert.equal(parseInviteCode(withOnes), canonical);
  });

  it('catch typos locally, before any attempt is spent', () => {
    const canonical = parseInviteCode(newInviteCode());
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    let missed = 0;
    let tried = 0;
    for (let i = 0; i < canonical.length; i++) {
      for (const ch of alphabet) {
        if (ch === canonical[i]) continue;
        tried++;
        try {
          parseInviteCode(canonical.slice(0, i) + ch + canonical.slice(i + 1));
          missed++;
        } catch (e) {
          assert.ok(e instanceof InviteCodeError);
        }
      }
    }
    assert.ok(missed <= 3, `${missed} of ${tried} single-symbol typos went unnoticed`);
    assert.throws(() => parseInviteCode('ABCD-EFGH'), /12 characters/);
    assert.throws(() => parseInviteCode('ABCD-EFGH-JK!U'), InviteCodeError);
    // Two symbols swapped.
    const swapped = canonical[1] + canonical[0] + canonical.slice(2);
    if (swapped !== canonical) assert.throws(() => parseInviteCode(swapped), /typo/);
  });

  it('derive a topic and a proof key that depend on every symbol', async () => {
    const a = parseInviteCode(newInviteCode());
    const k1 = await deriveInviteKeys(a);
    const k2 = await deriveInviteKeys(a);
    assert.deepEqual(k1, k2);
    const other = await deriveInviteKeys(newInviteCode());
    assert.notDeepEqual(other.topic, k1.topic);
    assert.notDeepEqual(Buffer.from(k1.topic), Buffer.from(k1.proofKey));
  });
});

describe('pairing messages', () => {
  it('round-trip and refuse malformed, unknown and oversized input with a protocol error', () => {
    const offer = { libraryId: newId(), name: 'Work', secret: new Uint8Array(randomBytes(32)), inviter: cardOf('laptop'), members: [cardOf('laptop'), cardOf('desktop')], anchors: [cardOf('laptop')] };
    const accept = { type: 2 as const, proof: new Uint8Array(32).fill(7), offer };
    assert.deepEqual(decodeMessage(encodeMessage(accept)), accept);
    const refuse = { type: 3 as const, reason: 'wrong invite code', attemptsLeft: 0 };
    assert.deepEqual(decodeMessage(encodeMessage(refuse)), refuse);
    const bad = (bytes: Uint8Array) => assert.throws(() => decodeMessage(bytes), (e: unknown) => e instanceof PairingError && e.reason === 'protocol');
    bad(new Uint8Array([99]));
    bad(new Uint8Array(0));
    bad(encodeMessage(accept).subarray(0, 40));
    bad(new Uint8Array([...encodeMessage(refuse), 1]));
    bad(new Uint8Array(300 * 1024));
  });
});

describe('pairing over a local testnet', function () {
  this.timeout(60_000);
  let testnet: Testnet;
  const invites: Invite[] = [];
  before(async () => {
    testnet = await createTestnet(3);
  });
  afterEach(async () => {
    for (const i of invites.splice(0)) await i.revoke();
  });
  after(async () => {
    await testnet?.destroy();
  });

  function inviteHost(): InviteHost & { admitted: DeviceCard[] } {
    const self = cardOf('laptop');
    const admitted: DeviceCard[] = [];
    return {
      libraryId: newId(),
      libraryName: 'Work',
      secret: new Uint8Array(randomBytes(32)),
      self,
      members: () => [self, ...admitted],
      anchors: () => [self],
      admit: async (d) => void admitted.push(d),
      admitted,
    };
  }

  async function invite(host: InviteHost, extra: Partial<Parameters<typeof Invite.create>[0]> = {}): Promise<Invite> {
    const inv = await Invite.create({ host, bootstrap: testnet.bootstrap, wrongAttemptDelayMs: 20, ...extra });
    invites.push(inv);
    await inv.announced;
    return inv;
  }

  it('pairs with the right code: the joiner gets the library, the inviter records the joiner, and the code is then spent', async () => {
    const host = inviteHost();
    const inv = await invite(host);
    const joiner = cardOf('desktop');
    const offer = await joinWithCode({ code: inv.code.toLowerCase(), joiner, bootstrap: testnet.bootstrap });
    assert.ok(idEquals(offer.libraryId, host.libraryId));
    assert.equal(offer.name, 'Work');
    assert.deepEqual(offer.secret, host.secret);
    assert.ok(idEquals(offer.inviter.device, host.self.device));
    assert.deepEqual(offer.inviter.publicKey, host.self.publicKey);
    assert.ok(offer.members.some((m) => idEquals(m.device, joiner.device)), 'the joiner is a member already');
    const joined = await inv.done;
    assert.ok(idEquals(joined.device, joiner.device));
    assert.deepEqual(joined.publicKey, joiner.publicKey);
    assert.equal(host.admitted.length, 1);
    assert.equal(inv.state, 'joined');

    await assert.rejects(
      joinWithCode({ code: inv.code, joiner: cardOf('thief'), bootstrap: testnet.bootstrap, timeoutMs: 3000 }),
      (e: unknown) => e instanceof PairingError && e.reason === 'timeout',
    );
    assert.equal(host.admitted.length, 1, 'single use');
  });

  it('refuses a joiner that found the rendezvous but does not know the code, and the invite dies after 5 wrong attempts', async () => {
    const host = inviteHost();
    const inv = await invite(host);
    const keys = await deriveInviteKeys(inv.code);
    const attempts: number[] = [];
    inv.on('attempt', (a: { ok: boolean; attemptsLeft: number }) => attempts.push(a.attemptsLeft));
    for (let left = 4; left >= 0; left--) {
      await assert.rejects(
        joinWithKeys({ topic: keys.topic, proofKey: new Uint8Array(randomBytes(32)) }, { joiner: cardOf('mallory'), bootstrap: testnet.bootstrap, timeoutMs: 20_000 }),
        (e: unknown) => e instanceof PairingError && e.reason === 'refused' && /wrong invite code/.test(e.message) && e.attemptsLeft === left,
      );
    }
    assert.deepEqual(attempts, [4, 3, 2, 1, 0]);
    await assert.rejects(inv.done, (e: unknown) => e instanceof PairingError && e.reason === 'exhausted');
    assert.equal(inv.state, 'exhausted');
    assert.equal(host.admitted.length, 0, 'nothing was recorded or sent');
    // Even the right code no longer works (refused or cut off while the rendezvous closes, then not found).
    await assert.rejects(
      joinWithCode({ code: inv.code, joiner: cardOf('desktop'), bootstrap: testnet.bootstrap, timeoutMs: 3000 }),
      (e: unknown) => e instanceof PairingError && e.reason !== 'bad-proof',
    );
    assert.equal(host.admitted.length, 0);
  });

  it('answers one attempt at a time: a second device trying while a wrong attempt is pending is turned away without costing an attempt', async () => {
    const host = inviteHost();
    const inv = await invite(host, { wrongAttemptDelayMs: 1500 });
    const keys = await deriveInviteKeys(inv.code);
    const wrong = { topic: keys.topic, proofKey: new Uint8Array(randomBytes(32)) };
    const first = joinWithKeys(wrong, { joiner: cardOf('m1'), bootstrap: testnet.bootstrap });
    await new Promise<void>((r) => inv.once('attempt', () => r()));
    await assert.rejects(
      joinWithKeys(wrong, { joiner: cardOf('m2'), bootstrap: testnet.bootstrap }),
      (e: unknown) => e instanceof PairingError && /another device is trying/.test(e.message),
    );
    await assert.rejects(first, (e: unknown) => e instanceof PairingError && e.attemptsLeft === 4);
    assert.equal(inv.attemptsLeft, 4);
    // The real joiner still gets in.
    const offer = await joinWithCode({ code: inv.code, joiner: cardOf('desktop'), bootstrap: testnet.bootstrap });
    assert.ok(idEquals(offer.libraryId, host.libraryId));
  });

  it('does not accept a library from an impostor at the rendezvous that cannot prove the code', async () => {
    const code = newInviteCode();
    const real = await deriveInviteKeys(code);
    const host = inviteHost();
    const impostor = Invite.withKeys(code, { topic: real.topic, proofKey: new Uint8Array(randomBytes(32)) }, { host, bootstrap: testnet.bootstrap });
    invites.push(impostor);
    await impostor.announced;
    await assert.rejects(
      joinWithCode({ code, joiner: cardOf('desktop'), bootstrap: testnet.bootstrap, timeoutMs: 20_000 }),
      (e: unknown) => e instanceof PairingError && (e.reason === 'refused' || e.reason === 'bad-proof'),
    );
    // The impostor could not check the joiner's proof either, so it sent nothing.
    assert.equal(host.admitted.length, 0);
  });

  it('a revoked or expired invite stops working', async () => {
    const revoked = await invite(inviteHost());
    await revoked.revoke();
    await assert.rejects(revoked.done, (e: unknown) => e instanceof PairingError && e.reason === 'revoked');
    await assert.rejects(
      joinWithCode({ code: revoked.code, joiner: cardOf('desktop'), bootstrap: testnet.bootstrap, timeoutMs: 3000 }),
      (e: unknown) => e instanceof PairingError && e.reason === 'timeout',
    );
    const expiring = await invite(inviteHost(), { ttlMs: 200 });
    await assert.rejects(expiring.done, (e: unknown) => e instanceof PairingError && e.reason === 'expired');
    assert.equal(expiring.state, 'expired');
  });

  it('a typo is refused locally with no network use', async () => {
    const inv = await invite(inviteHost());
    const c = inv.code.replace(/-/g, '');
    const typo = c.slice(0, 11) + (c[11] === 'A' ? 'B' : 'A');
    await assert.rejects(joinWithCode({ code: typo, joiner: cardOf('desktop'), bootstrap: testnet.bootstrap }), InviteCodeError);
    assert.equal(inv.attemptsLeft, 5);
  });
});
