import { findOrphans, intentReachedVault, previousRevocation, refsInVault } from '../../src/cleanup';
import type { RotationIntent, SecretState, VaultVersion } from '../../src/types';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function version(versionId: string, providerRef: string, issuedAt = T0): VaultVersion {
  return {
    versionId,
    stages: [],
    createdAt: iso(issuedAt),
    value: {
      provider: 'p',
      secretId: 's',
      credentials: { secret: `v-${providerRef}` },
      issuedAt: iso(issuedAt),
      expiresAt: iso(issuedAt + 86_400_000),
      providerRef,
      rotationId: versionId,
    },
  };
}

const intent = (rotationId: string, liveBefore: string[]): RotationIntent => ({ rotationId, startedAt: iso(T0), liveBefore });
const live = (...refs: string[]) => refs.map((providerRef) => ({ providerRef }));

describe('findOrphans: what an interrupted rotation left at the provider', () => {
  const state: SecretState = { current: version('r1', 'cur'), previous: version('r0', 'prev') };
  test.each([
    ['the lost secret is the only new one', live('cur', 'prev', 'lost'), ['cur', 'prev'], ['lost']],
    [
      'secrets that predate the intent are left alone, known to the vault or not',
      live('cur', 'hand-made', 'lost'),
      ['cur', 'hand-made'],
      ['lost'],
    ],
    ['nothing new: nothing to delete', live('cur', 'prev'), ['cur', 'prev'], []],
    ['a secret the vault holds is never an orphan, even if new', live('cur', 'prev'), [], []],
    ['two lost attempts (a retry after a lost answer)', live('cur', 'lost-1', 'lost-2'), ['cur'], ['lost-1', 'lost-2']],
  ])('%s', (_title, liveNow, before, expected) => {
    expect(findOrphans(liveNow, intent('r2', before), state)).toEqual(expected);
  });

  test('the pending version counts as known', () => {
    const withPending: SecretState = { ...state, pending: version('r2', 'new') };
    expect(findOrphans(live('cur', 'new'), intent('r2', ['cur']), withPending)).toEqual([]);
    expect([...refsInVault(withPending)].sort()).toEqual(['cur', 'new', 'prev']);
  });
});

describe('intentReachedVault', () => {
  test.each([
    ['its rotation is pending', { pending: version('r2', 'x') }, true],
    ['its rotation is current', { current: version('r2', 'x') }, true],
    ['its rotation is previous', { previous: version('r2', 'x') }, true],
    ['another rotation only', { current: version('r1', 'x') }, false],
    ['an empty vault', {}, false],
  ])('%s → %s', (_title, state, expected) => {
    expect(intentReachedVault(state as SecretState, intent('r2', []))).toBe(expected);
  });
});

describe('previousRevocation: the grace period after a promotion', () => {
  const promoted: SecretState = { current: version('r2', 'new', T0), previous: version('r1', 'old', T0 - 3_600_000) };
  test.each([
    ['grace not over', promoted, 60_000, T0 + 59_999, { action: 'wait', at: T0 + 60_000, providerRef: 'old' }],
    ['grace just over', promoted, 60_000, T0 + 60_000, { action: 'revoke', providerRef: 'old' }],
    ['grace 0: at once', promoted, 0, T0, { action: 'revoke', providerRef: 'old' }],
    ['never', promoted, undefined, T0 + 1e12, { action: 'none' }],
    ['no previous', { current: version('r2', 'new') }, 0, T0, { action: 'none' }],
    ['no current', { previous: version('r1', 'old') }, 0, T0, { action: 'none' }],
    [
      'previous is the same provider secret as current',
      { current: version('r2', 'same'), previous: version('r1', 'same') },
      0,
      T0,
      { action: 'none' },
    ],
  ])('%s', (_title, state, grace, now, expected) => {
    expect(previousRevocation(state as SecretState, grace, now)).toMatchObject(expected);
  });
});
