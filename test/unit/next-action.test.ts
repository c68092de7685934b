import { nextAction, type Capabilities } from '../../src/next-action';
import type { RenewalPolicy } from '../../src/renewal';
import type { ProviderSecretInfo, SecretState, VaultValue, VaultVersion } from '../../src/types';

const H = 3_600_000;
const T0 = Date.parse('2026-11-22T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function version(
  ref: string,
  issuedAt: number,
  lifetimeMs = 3 * H,
  stage: VaultVersion['stages'][number] = 'current',
): VaultVersion {
  const value: VaultValue = {
    provider: 'fake',
    secretId: 's',
    credentials: { secret: `value-of-${ref}` },
    issuedAt: iso(issuedAt),
    expiresAt: iso(issuedAt + lifetimeMs),
    providerRef: ref,
    rotationId: `rot-${ref}`,
  };
  return { versionId: `rot-${ref}`, value, stages: [stage], createdAt: iso(issuedAt) };
}

const policy: RenewalPolicy = { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 };
const none: Capabilities = { revoke: false, list: false };
const mongo: Capabilities = {
  revoke: true,
  list: true,
  maxLiveSecrets: 2,
  revokePreviousAfterMs: H,
  issueEffectOnOlder: { kind: 'shorten', toAtMostMs: 7 * 24 * H },
};
const live = (...refs: string[]): ProviderSecretInfo[] => refs.map((providerRef) => ({ providerRef, createdAt: iso(T0 - H) }));
const kinds = (a: ReturnType<typeof nextAction>) => a.steps.map((s) => s.kind);

describe('nextAction: one decision, as a table', () => {
  const fresh: SecretState = { current: version('A', T0) };
  const rotated: SecretState = { current: version('B', T0), previous: version('A', T0 - 2 * H, 3 * H, 'previous') };
  const withIntent: SecretState = {
    current: version('A', T0),
    intent: { rotationId: 'lost-rotation', startedAt: iso(T0), liveBefore: ['A'] },
  };

  test.each<[string, SecretState, number, Capabilities, object, string[], string, number | undefined]>([
    ['missing: issue now', {}, T0, none, {}, ['issue'], 'missing', T0],
    ['fresh: nothing until 2/3 of the lifetime', fresh, T0 + H, none, {}, [], 'ok', T0 + 2 * H],
    ['due: issue', fresh, T0 + 2 * H, none, {}, ['issue'], 'renewing', T0 + 2 * H],
    ['expired: issue', fresh, T0 + 3 * H, none, {}, ['issue'], 'expired', T0 + 3 * H],
    ['manual before due: forced issue', fresh, T0 + H, none, { mode: 'manual' }, ['issue'], 'renewing', T0 + H],
    [
      'pending: resume, never issue',
      { ...fresh, pending: version('P', T0 + H, 3 * H, 'pending') },
      T0 + H,
      none,
      {},
      ['resume'],
      'renewing',
      T0 + H,
    ],
    [
      'pending already expired: discard it, then issue',
      { ...fresh, pending: version('P', T0 - 4 * H, 3 * H, 'pending') },
      T0 + H,
      mongo,
      { live: live('A', 'P') },
      ['discard-pending', 'issue'],
      'renewing',
      T0 + H,
    ],
    ['previous inside grace: wake at grace end', rotated, T0 + H / 2, mongo, {}, [], 'ok', T0 + H],
    ['previous past grace: revoke it', rotated, T0 + H, mongo, {}, ['revoke-previous'], 'ok', T0 + H],
    [
      'previous already revoked (durable memo): nothing',
      { ...rotated, revokedPrevious: 'A' },
      T0 + H,
      mongo,
      {},
      [],
      'ok',
      T0 + 2 * H,
    ],
    ['unfinished intent: clean orphans', withIntent, T0 + H, mongo, { live: live('A', 'X') }, ['clean-orphans'], 'ok', T0 + H],
  ])('%s', (_name, state, now, caps, request, steps, word, wakeAt) => {
    const action = nextAction(state, now, policy, caps, request);
    expect(kinds(action)).toEqual(steps);
    expect(action.state).toBe(word);
    expect(action.wakeAt).toBe(wakeAt);
  });

  test('paused: reported as paused, refused when asked by hand unless forced', () => {
    const paused = { ...policy, paused: true };
    expect(nextAction(fresh, T0 + 3 * H, paused, none)).toMatchObject({ state: 'paused', steps: [] });
    expect(nextAction(fresh, T0 + 3 * H, paused, none).wakeAt).toBeUndefined();
    expect(nextAction(fresh, T0, paused, none, { mode: 'manual' }).refusal?.code).toBe('PAUSED');
    expect(kinds(nextAction(fresh, T0, paused, none, { mode: 'manual', force: true }))).toEqual(['issue']);
  });

  test('orphans are named when the provider was listed; never a secret that predates the intent', () => {
    const action = nextAction(withIntent, T0 + H, policy, mongo, { live: live('A', 'X', 'Y') });
    expect(action.steps[0]).toMatchObject({ kind: 'clean-orphans', providerRefs: ['X', 'Y'] });
  });

  test('make-room names what it deletes: an unknown secret before the previous; never the current', () => {
    const due = T0 + 2 * H;
    const withUnknown = nextAction({ current: version('A', T0) }, due, policy, mongo, { live: live('A', 'U') });
    expect(withUnknown.steps).toEqual([
      expect.objectContaining({ kind: 'make-room', providerRef: 'U' }),
      expect.objectContaining({ kind: 'issue', reason: 'due' }),
    ]);
    const unlisted = nextAction({ current: version('A', T0) }, due, policy, mongo);
    expect(unlisted.steps[0]).toMatchObject({ kind: 'make-room' });
    expect(unlisted.steps[0]).not.toHaveProperty('providerRef');
  });

  test('the previous revoked after its grace frees the slot: no make-room on top', () => {
    const action = nextAction(rotated, T0 + 2 * H, policy, mongo, { live: live('A', 'B') });
    expect(kinds(action)).toEqual(['revoke-previous', 'issue']);
  });

  test('a forced rotation that would delete the previous inside its grace period is refused unless forced', () => {
    const state: SecretState = { current: version('B', T0), previous: version('A', T0 - H, 3 * H, 'previous') };
    const refused = nextAction(state, T0 + H / 2, policy, mongo, { mode: 'manual', live: live('A', 'B') });
    expect(refused.refusal).toMatchObject({ code: 'GRACE_PERIOD' });
    expect(refused.refusal!.message).toContain('A');
    const forced = nextAction(state, T0 + H / 2, policy, mongo, { mode: 'manual', force: true, live: live('A', 'B') });
    expect(forced.refusal).toBeUndefined();
    expect(forced.steps).toEqual([
      expect.objectContaining({ kind: 'make-room', providerRef: 'A' }),
      expect.objectContaining({ kind: 'issue' }),
    ]);
  });

  test('a scheduled due rotation goes ahead even inside the grace period (else the current would expire)', () => {
    const state: SecretState = { current: version('B', T0, 3 * H), previous: version('A', T0 - H, 3 * H, 'previous') };
    const caps = { ...mongo, revokePreviousAfterMs: 10 * H };
    const action = nextAction(state, T0 + 2 * H, policy, caps, { live: live('A', 'B') });
    expect(action.refusal).toBeUndefined();
    expect(action.steps[0]).toMatchObject({ kind: 'make-room', providerRef: 'A' });
    expect((action.steps[0] as { reason: string }).reason).toContain('grace period');
  });

  test('backing off after failures: nothing until nextAttemptAt (a one-off rotate ignores it)', () => {
    const failing: SecretState = {
      current: version('A', T0),
      status: {
        lastAttemptAt: iso(T0 + 2 * H),
        lastResult: 'failed',
        consecutiveFailures: 2,
        nextAttemptAt: iso(T0 + 2 * H + 60_000),
      },
    };
    expect(nextAction(failing, T0 + 2 * H + 1, policy, none)).toMatchObject({
      steps: [],
      state: 'failing',
      wakeAt: T0 + 2 * H + 60_000,
    });
    expect(kinds(nextAction(failing, T0 + 2 * H + 60_000, policy, none))).toEqual(['issue']);
    expect(kinds(nextAction(failing, T0 + 2 * H + 1, policy, none, { mode: 'manual' }))).toEqual(['issue']);
  });

  test('shortening: a pending version issued by a shortening provider cuts the current expiry', () => {
    const long: SecretState = { current: version('A', T0, 30 * 24 * H), pending: version('P', T0 + H, 30 * 24 * H, 'pending') };
    expect(nextAction(long, T0 + 2 * H, policy, mongo).expiresAt).toBe(T0 + H + 7 * 24 * H);
    expect(nextAction(long, T0 + 2 * H, policy, none).expiresAt).toBe(T0 + 30 * 24 * H);
  });

  test('the same input gives the same output (plan is reproducible)', () => {
    const jittered = { ...policy, jitter: 0.3 };
    expect(nextAction(fresh, T0 + H, jittered, mongo)).toEqual(nextAction(fresh, T0 + H, jittered, mongo));
  });
});

describe('nextAction: windows', () => {
  // Windows open at 02:00 Asia/Seoul (17:00 UTC) for 3 h.
  const window = { start: '0 2 * * *', durationMs: 3 * H, timezone: 'Asia/Seoul' };
  const windowed = { ...policy, window };
  const seoul2am = Date.parse('2026-11-22T17:00:00Z');

  test('due outside the window: waits for the window to open', () => {
    // 24 h credential issued at 00:00 UTC: due at 16:00 UTC, the window opens at 17:00 UTC.
    const state: SecretState = { current: version('A', T0, 24 * H) };
    const before = nextAction(state, T0 + 16 * H + 1, windowed, none);
    expect(before).toMatchObject({ steps: [], state: 'ok', wakeAt: seoul2am });
    expect(nextAction(state, T0 + H, windowed, none).wakeAt).toBe(seoul2am);
  });

  test('inside the window: rotates', () => {
    const state: SecretState = { current: version('A', T0, 24 * H) };
    expect(nextAction(state, seoul2am + H, windowed, none).steps).toEqual([
      expect.objectContaining({ kind: 'issue', reason: 'due' }),
    ]);
  });

  test('the emergency path: outside the window when the credential would expire before it opens', () => {
    // 3 h credential issued at 00:00 UTC: due at 02:00 UTC; the next window (17:00 UTC) is after expiry.
    const state: SecretState = { current: version('A', T0, 3 * H) };
    const action = nextAction(state, T0 + 2 * H, windowed, none);
    expect(action.steps).toEqual([expect.objectContaining({ kind: 'issue', reason: 'emergency-outside-window' })]);
    expect(nextAction(state, T0 + H, windowed, none).wakeAt).toBe(T0 + 2 * H);
  });

  test('a one-off rotate ignores the window; a missing credential does not wait for one', () => {
    const state: SecretState = { current: version('A', T0, 24 * H) };
    expect(kinds(nextAction(state, T0 + H, windowed, none, { mode: 'manual' }))).toEqual(['issue']);
    expect(nextAction({}, T0, windowed, none).steps).toEqual([expect.objectContaining({ reason: 'emergency-outside-window' })]);
  });
});
