import type { ManualClock } from '../src/clock';
import { STAGES, type AttemptStatus, type RotationIntent, type Vault, type VaultValue } from '../src/types';

/**
 * The Vault contract (src/types.ts) as one suite that every vault runs:
 *
 *   describeVaultContract('FileVault', async () => ({ vault, clock, cleanup }));
 *
 * `makeVault` returns a fresh, empty vault for each test, driven by `clock` (lease expiry and
 * version timestamps come from it). Lease tests are skipped for a vault without acquireLease.
 */
export interface VaultUnderTest {
  vault: Vault;
  clock: ManualClock;
  cleanup(): Promise<void>;
}

/** A vault value for `rotationId`; `secret` varies the credential so values can differ. */
export function sampleValue(rotationId: string, secret = `s3cr3t-${rotationId}`): VaultValue {
  return {
    provider: 'test',
    secretId: 'app',
    credentials: { accessKey: `AK-${rotationId}`, secretKey: secret },
    issuedAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-02T00:00:00.000Z',
    providerRef: `AK-${rotationId}`,
    rotationId,
  };
}

export function describeVaultContract(name: string, makeVault: () => Promise<VaultUnderTest>): void {
  describe(`${name} satisfies the Vault contract`, () => {
    let t: VaultUnderTest;
    let vault: Vault;
    beforeEach(async () => {
      t = await makeVault();
      vault = t.vault;
    });
    afterEach(async () => {
      await t.vault.close?.();
      await t.cleanup();
    });

    /** Stores and promotes `ids` in order on `key`. */
    async function rotate(key: string, ...ids: string[]): Promise<void> {
      for (const id of ids) {
        const current = (await vault.read(key)).current?.versionId ?? null;
        await vault.putPending(key, sampleValue(id), id);
        await vault.promote(key, id, current);
      }
    }

    const conflict = expect.objectContaining({ code: 'VAULT_CONFLICT' });

    describe('reads', () => {
      test('a key never written reads as {} and lists nothing', async () => {
        expect(await vault.read('never-written')).toEqual({});
        expect(await vault.list()).toEqual([]);
      });

      test('keys are independent', async () => {
        await rotate('a', 'r1');
        expect(await vault.read('b')).toEqual({});
        expect((await vault.read('a')).current?.versionId).toBe('r1');
      });

      test('a returned value is a copy: changing it does not change the vault', async () => {
        await rotate('a', 'r1');
        const state = await vault.read('a');
        state.current!.value.credentials.secretKey = 'changed';
        expect((await vault.read('a')).current?.value).toEqual(sampleValue('r1'));
      });
    });

    describe('putPending', () => {
      test('stores the value as the pending version with versionId = rotationId', async () => {
        const version = await vault.putPending('a', sampleValue('r1'), 'r1');
        expect(version).toEqual({
          versionId: 'r1',
          value: sampleValue('r1'),
          stages: ['pending'],
          createdAt: new Date(t.clock.now()).toISOString(),
        });
        expect(await vault.read('a')).toEqual({ pending: version });
      });

      test('the same rotationId and value is a no-op returning the stored version', async () => {
        const first = await vault.putPending('a', sampleValue('r1'), 'r1');
        t.clock.advance(60_000);
        const again = await vault.putPending('a', sampleValue('r1'), 'r1');
        expect(again).toEqual(first);
        expect((await vault.read('a')).pending).toEqual(first);
      });

      test('the same rotationId with another value is VAULT_CONFLICT and changes nothing', async () => {
        const first = await vault.putPending('a', sampleValue('r1'), 'r1');
        await expect(vault.putPending('a', sampleValue('r1', 'other'), 'r1')).rejects.toEqual(conflict);
        expect(await vault.read('a')).toEqual({ pending: first });
      });

      test('reusing the rotationId of the current version with another value is VAULT_CONFLICT', async () => {
        await rotate('a', 'r1');
        await expect(vault.putPending('a', sampleValue('r1', 'other'), 'r1')).rejects.toEqual(conflict);
        expect((await vault.read('a')).current?.value).toEqual(sampleValue('r1'));
      });

      test('a different pending version replaces the old one, which loses its stage', async () => {
        await vault.putPending('a', sampleValue('r1'), 'r1');
        await vault.putPending('a', sampleValue('r2'), 'r2');
        const state = await vault.read('a');
        expect(state.pending?.versionId).toBe('r2');
        expect(state.current).toBeUndefined();
        await expect(vault.promote('a', 'r1', null)).rejects.toEqual(conflict);
      });

      test('does not touch current or previous', async () => {
        await rotate('a', 'r1', 'r2');
        await vault.putPending('a', sampleValue('r3'), 'r3');
        const state = await vault.read('a');
        expect([state.current?.versionId, state.previous?.versionId, state.pending?.versionId]).toEqual(['r2', 'r1', 'r3']);
      });
    });

    describe('promote (compare-and-swap)', () => {
      test('with null on a key without current: pending becomes current', async () => {
        await vault.putPending('a', sampleValue('r1'), 'r1');
        await vault.promote('a', 'r1', null);
        const state = await vault.read('a');
        expect(state.current).toMatchObject({ versionId: 'r1', stages: ['current'], value: sampleValue('r1') });
        expect(state.pending).toBeUndefined();
        expect(state.previous).toBeUndefined();
      });

      test('with the right expected version: old current becomes previous', async () => {
        await rotate('a', 'r1');
        await vault.putPending('a', sampleValue('r2'), 'r2');
        await vault.promote('a', 'r2', 'r1');
        const state = await vault.read('a');
        expect(state.current?.versionId).toBe('r2');
        expect(state.previous).toMatchObject({ versionId: 'r1', stages: ['previous'] });
        expect(state.pending).toBeUndefined();
      });

      test('with a stale expected version: VAULT_CONFLICT, nothing changes', async () => {
        await rotate('a', 'r1', 'r2');
        await vault.putPending('a', sampleValue('r3'), 'r3');
        const before = await vault.read('a');
        await expect(vault.promote('a', 'r3', 'r1')).rejects.toEqual(conflict);
        expect(await vault.read('a')).toEqual(before);
      });

      test('with null when a current exists: VAULT_CONFLICT', async () => {
        await rotate('a', 'r1');
        await vault.putPending('a', sampleValue('r2'), 'r2');
        await expect(vault.promote('a', 'r2', null)).rejects.toEqual(conflict);
        expect((await vault.read('a')).current?.versionId).toBe('r1');
      });

      test('expecting a current when there is none: VAULT_CONFLICT', async () => {
        await vault.putPending('a', sampleValue('r1'), 'r1');
        await expect(vault.promote('a', 'r1', 'r0')).rejects.toEqual(conflict);
        expect((await vault.read('a')).pending?.versionId).toBe('r1');
      });

      test('when the pending version is another rotation, or there is none: VAULT_CONFLICT', async () => {
        await expect(vault.promote('a', 'r1', null)).rejects.toEqual(conflict);
        await vault.putPending('a', sampleValue('r2'), 'r2');
        await expect(vault.promote('a', 'r1', null)).rejects.toEqual(conflict);
        expect(await vault.read('a')).toEqual({ pending: expect.objectContaining({ versionId: 'r2' }) });
      });

      test('promoting the version that is already current resolves, whatever was expected', async () => {
        await rotate('a', 'r1', 'r2');
        const before = await vault.read('a');
        await expect(vault.promote('a', 'r2', 'r1')).resolves.toBeUndefined();
        await expect(vault.promote('a', 'r2', null)).resolves.toBeUndefined();
        expect(await vault.read('a')).toEqual(before);
      });

      test('previous shifts over three rotations; the oldest loses its stage', async () => {
        await rotate('a', 'r1');
        expect(await stages('a')).toEqual({ current: 'r1' });
        await rotate('a', 'r2');
        expect(await stages('a')).toEqual({ current: 'r2', previous: 'r1' });
        await rotate('a', 'r3');
        expect(await stages('a')).toEqual({ current: 'r3', previous: 'r2' });
        const state = await vault.read('a');
        expect(state.current?.stages).toEqual(['current']);
        expect(state.previous?.stages).toEqual(['previous']);
      });

      test('only one of two racing rotations wins', async () => {
        await rotate('a', 'r1');
        await vault.putPending('a', sampleValue('r2'), 'r2');
        await vault.promote('a', 'r2', 'r1');
        await vault.putPending('a', sampleValue('r3'), 'r3');
        await expect(vault.promote('a', 'r3', 'r1')).rejects.toEqual(conflict);
        expect(await stages('a')).toEqual({ current: 'r2', previous: 'r1', pending: 'r3' });
      });
    });

    describe('discardPending', () => {
      test('drops the pending version', async () => {
        await rotate('a', 'r1');
        await vault.putPending('a', sampleValue('r2'), 'r2');
        await vault.discardPending('a', 'r2');
        expect(await stages('a')).toEqual({ current: 'r1' });
        await expect(vault.promote('a', 'r2', 'r1')).rejects.toEqual(conflict);
      });

      test('missing is success, on a known key and on an unknown one', async () => {
        await rotate('a', 'r1');
        await expect(vault.discardPending('a', 'nope')).resolves.toBeUndefined();
        await expect(vault.discardPending('unknown', 'nope')).resolves.toBeUndefined();
        expect(await stages('a')).toEqual({ current: 'r1' });
      });

      test('leaves another rotation’s pending version and never drops current', async () => {
        await rotate('a', 'r1');
        await vault.putPending('a', sampleValue('r2'), 'r2');
        await vault.discardPending('a', 'r9');
        await vault.discardPending('a', 'r1');
        expect(await stages('a')).toEqual({ current: 'r1', pending: 'r2' });
      });

      // Not promised: re-using a discarded rotationId with another value. AWS keeps the version
      // (ClientRequestToken) and would refuse it; the engine never re-uses a rotation id.
      test('after a discard, the next rotation can be stored as pending and promoted', async () => {
        await vault.putPending('a', sampleValue('r1'), 'r1');
        await vault.discardPending('a', 'r1');
        await vault.putPending('a', sampleValue('r2'), 'r2');
        await vault.promote('a', 'r2', null);
        expect((await vault.read('a')).current?.value).toEqual(sampleValue('r2'));
      });
    });

    describe('list', () => {
      test('keys starting with the prefix, sorted; all keys without a prefix', async () => {
        for (const key of ['svc/b', 'app/z', 'svc/a', 'svc-x', 'app/a']) await rotate(key, `r-${key}`);
        expect(await vault.list('svc/')).toEqual(['svc/a', 'svc/b']);
        expect(await vault.list('app/')).toEqual(['app/a', 'app/z']);
        expect(await vault.list()).toEqual(['app/a', 'app/z', 'svc-x', 'svc/a', 'svc/b']);
        expect(await vault.list('none/')).toEqual([]);
      });

      test('a key holding only a pending version is listed', async () => {
        await vault.putPending('p', sampleValue('r1'), 'r1');
        expect(await vault.list()).toEqual(['p']);
      });
    });

    describe('leases', () => {
      const ttl = 30_000;
      const lease = (key: string, owner: string) => {
        if (!vault.acquireLease) throw new Error('no leases');
        return vault.acquireLease(key, owner, ttl);
      };
      const maybe = (title: string, fn: () => Promise<void>) =>
        test(title, async () => {
          if (!vault.acquireLease) return;
          await fn();
        });

      maybe('an owner gets the lease until now + ttl', async () => {
        const held = await lease('a', 'one');
        expect(held).toMatchObject({ key: 'a', owner: 'one', expiresAt: t.clock.now() + ttl });
      });

      maybe('is exclusive: another owner gets null while it is unexpired', async () => {
        await lease('a', 'one');
        t.clock.advance(ttl - 1);
        expect(await lease('a', 'two')).toBeNull();
        expect(await lease('b', 'two')).not.toBeNull();
      });

      maybe('expires: another owner gets it after ttl', async () => {
        await lease('a', 'one');
        t.clock.advance(ttl);
        expect(await lease('a', 'two')).toMatchObject({ owner: 'two' });
        expect(await lease('a', 'one')).toBeNull();
      });

      maybe('is re-entrant for the same owner, extending it', async () => {
        const first = await lease('a', 'one');
        t.clock.advance(10_000);
        const second = await lease('a', 'one');
        expect(second!.expiresAt).toBe(first!.expiresAt + 10_000);
        t.clock.advance(ttl - 1);
        expect(await lease('a', 'two')).toBeNull();
      });

      maybe('release frees it for others and is idempotent', async () => {
        const held = await lease('a', 'one');
        await held!.release();
        await held!.release();
        expect(await lease('a', 'two')).toMatchObject({ owner: 'two' });
      });

      maybe('release after expiry does not throw and does not remove the next owner’s lease', async () => {
        const mine = await lease('a', 'one');
        t.clock.advance(ttl + 1);
        const theirs = await lease('a', 'two');
        await expect(mine!.release()).resolves.toBeUndefined();
        expect(await lease('a', 'three')).toBeNull();
        await theirs!.release();
        expect(await lease('a', 'three')).toMatchObject({ owner: 'three' });
      });

      maybe('release of an expired lease nobody took resolves', async () => {
        const mine = await lease('a', 'one');
        t.clock.advance(ttl * 2);
        await expect(mine!.release()).resolves.toBeUndefined();
      });

      maybe('leases do not create keys and do not touch versions', async () => {
        await rotate('a', 'r1');
        const held = await lease('a', 'one');
        await lease('b', 'one');
        expect(await vault.list()).toEqual(['a']);
        await held!.release();
        expect(await stages('a')).toEqual({ current: 'r1' });
      });
    });

    describe('intents', () => {
      const intent = (rotationId: string, liveBefore: string[] = ['old-1']): RotationIntent => ({
        rotationId,
        startedAt: '2026-01-01T00:00:00.000Z',
        liveBefore,
      });
      const maybe = (title: string, fn: () => Promise<void>) =>
        test(title, async () => {
          // A vault may leave intents out (the contract says so); this suite then has nothing to check.
          if (!vault.recordIntent || !vault.clearIntent) return;
          await fn();
        });

      maybe('a recorded intent is read back with the state, and replaced by the next one', async () => {
        await rotate('a', 'r1');
        await vault.recordIntent!('a', intent('r2', ['x', 'y']));
        expect(await vault.read('a')).toMatchObject({ current: { versionId: 'r1' }, intent: intent('r2', ['x', 'y']) });
        await vault.recordIntent!('a', intent('r3'));
        expect((await vault.read('a')).intent).toEqual(intent('r3'));
      });

      maybe('on a key never written, it is read back but does not list the key', async () => {
        await vault.recordIntent!('fresh', intent('r1'));
        expect((await vault.read('fresh')).intent).toEqual(intent('r1'));
        expect(await vault.list()).toEqual([]);
      });

      maybe('clearIntent drops it only when it names the rotation; missing is success', async () => {
        await vault.recordIntent!('a', intent('r1'));
        await vault.clearIntent!('a', 'other');
        expect((await vault.read('a')).intent).toEqual(intent('r1'));
        await vault.clearIntent!('a', 'r1');
        expect((await vault.read('a')).intent).toBeUndefined();
        await vault.clearIntent!('a', 'r1');
        await vault.clearIntent!('never-written', 'r1');
        expect(await vault.read('never-written')).toEqual({});
      });

      maybe('does not touch versions', async () => {
        await rotate('a', 'r1', 'r2');
        await vault.recordIntent!('a', intent('r3'));
        await vault.clearIntent!('a', 'r3');
        expect(await stages('a')).toEqual({ current: 'r2', previous: 'r1' });
      });

      maybe('an intent naming another rotation survives putPending', async () => {
        await vault.recordIntent!('a', intent('r-lost'));
        await vault.putPending('a', sampleValue('r2'), 'r2');
        expect((await vault.read('a')).intent).toEqual(intent('r-lost'));
      });
    });

    describe('concurrent writers on different keys', () => {
      test('many concurrent rotations on distinct keys all land; none is lost', async () => {
        const keys = Array.from({ length: 24 }, (_, i) => `c${i}`);
        await Promise.all(keys.map((key) => rotate(key, `${key}-r1`, `${key}-r2`)));
        expect(await vault.list('c')).toEqual([...keys].sort());
        for (const key of keys) expect(await stages(key)).toEqual({ current: `${key}-r2`, previous: `${key}-r1` });
      });

      test('concurrent pending writes and promotions interleaved across keys keep each key’s own chain', async () => {
        const keys = ['x', 'y', 'z'];
        await Promise.all(keys.map((key) => vault.putPending(key, sampleValue(`${key}1`), `${key}1`)));
        await Promise.all(keys.map((key) => vault.promote(key, `${key}1`, null)));
        await Promise.all(keys.map((key) => vault.putPending(key, sampleValue(`${key}2`), `${key}2`)));
        for (const key of keys) expect(await stages(key)).toEqual({ current: `${key}1`, pending: `${key}2` });
      });
    });

    describe('updateMeta', () => {
      const intent = (rotationId: string): RotationIntent => ({
        rotationId,
        startedAt: '2026-01-01T00:00:00.000Z',
        liveBefore: ['p'],
      });
      const status: AttemptStatus = { lastAttemptAt: '2026-01-01T00:00:00.000Z', lastResult: 'ok', consecutiveFailures: 0 };
      const maybe = (title: string, fn: () => Promise<void>) =>
        test(title, async () => {
          // Optional capability: a vault without it (the AWS vault today) has nothing to check here.
          if (!vault.updateMeta) return;
          await fn();
        });

      maybe('merges fields: an absent field is kept, a set one replaced, null removes it', async () => {
        await rotate('a', 'r1');
        await vault.updateMeta!('a', { intent: intent('r2'), revokedPrevious: 'AK-0' });
        await vault.updateMeta!('a', { status });
        expect(await vault.read('a')).toMatchObject({ intent: intent('r2'), revokedPrevious: 'AK-0', status });
        await vault.updateMeta!('a', { revokedPrevious: 'AK-1', intent: null });
        const state = await vault.read('a');
        expect(state).toMatchObject({ revokedPrevious: 'AK-1', status, current: { versionId: 'r1' } });
        expect(state.intent).toBeUndefined();
      });

      maybe('with a condition, applies only when the stored intent names that rotation', async () => {
        await vault.updateMeta!('a', { intent: intent('r2') });
        await vault.updateMeta!('a', { intent: null, revokedPrevious: 'AK-x' }, { intentRotationId: 'r-other' });
        expect(await vault.read('a')).toEqual({ intent: intent('r2') });
        await vault.updateMeta!('a', { intent: null, revokedPrevious: 'AK-x' }, { intentRotationId: 'r2' });
        expect(await vault.read('a')).toEqual({ revokedPrevious: 'AK-x' });
        await vault.updateMeta!('never-written', { intent: null }, { intentRotationId: 'r2' });
        expect(await vault.read('never-written')).toEqual({});
      });

      maybe('meta on a key never written reads back but does not list it; removing it all leaves {}', async () => {
        await vault.updateMeta!('fresh', { status });
        expect(await vault.read('fresh')).toEqual({ status });
        expect(await vault.list()).toEqual([]);
        await vault.updateMeta!('fresh', { status: null });
        expect(await vault.read('fresh')).toEqual({});
      });

      maybe('does not touch versions, and survives rotations', async () => {
        await rotate('a', 'r1');
        await vault.updateMeta!('a', { revokedPrevious: 'AK-0' });
        await rotate('a', 'r2');
        expect(await stages('a')).toEqual({ current: 'r2', previous: 'r1' });
        expect((await vault.read('a')).revokedPrevious).toBe('AK-0');
      });
    });

    describe('readMany', () => {
      const maybe = (title: string, fn: () => Promise<void>) =>
        test(title, async () => {
          if (!vault.readMany) return;
          await fn();
        });

      maybe('returns the same state as read for every key asked for; an unknown key maps to {}', async () => {
        await rotate('a', 'r1', 'r2');
        await vault.putPending('b', sampleValue('b1'), 'b1');
        const states = await vault.readMany!(['a', 'b', 'unknown']);
        expect([...states.keys()].sort()).toEqual(['a', 'b', 'unknown']);
        expect(states.get('a')).toEqual(await vault.read('a'));
        expect(states.get('b')).toEqual(await vault.read('b'));
        expect(states.get('unknown')).toEqual({});
      });

      maybe('reads many keys (more than any sensible concurrency bound)', async () => {
        const keys = Array.from({ length: 60 }, (_, i) => `m${String(i).padStart(2, '0')}`);
        await Promise.all(keys.map((key) => rotate(key, `${key}-r`)));
        const states = await vault.readMany!(keys);
        expect(keys.filter((key) => states.get(key)?.current?.versionId !== `${key}-r`)).toEqual([]);
      });
    });

    /** The versionId in each stage of `key`. */
    async function stages(key: string): Promise<Record<string, string>> {
      const state = await vault.read(key);
      return Object.fromEntries(STAGES.flatMap((stage) => (state[stage] ? [[stage, state[stage].versionId]] : [])));
    }
  });
}
