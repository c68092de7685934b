import { chooseSlotToFree } from '../../src/slots';
import type { ProviderSecretInfo } from '../../src/types';

const NOW = Date.parse('2026-11-22T00:00:00Z');
const s = (ref: string, createdAgoH: number, expiresInH = 100): ProviderSecretInfo => ({
  providerRef: ref,
  createdAt: new Date(NOW - createdAgoH * 3_600_000).toISOString(),
  expiresAt: new Date(NOW + expiresInH * 3_600_000).toISOString(),
});

describe('chooseSlotToFree', () => {
  test.each([
    ['no limit', [s('a', 1), s('b', 2), s('c', 3)], undefined, {}, { action: 'none' }],
    ['room left', [s('cur', 1)], 2, { current: 'cur' }, { action: 'none' }],
    ['nothing live', [], 2, {}, { action: 'none' }],
    [
      'full: the one that is neither current nor pending',
      [s('cur', 1), s('prev', 5)],
      2,
      { current: 'cur', previous: 'prev' },
      { action: 'delete', providerRef: 'prev' },
    ],
    [
      'full: an unknown one goes before the previous',
      [s('prev', 9), s('x', 1), s('cur', 2)],
      3,
      { current: 'cur', previous: 'prev' },
      { action: 'delete', providerRef: 'x' },
    ],
    ['full of unknowns: the oldest', [s('new', 1), s('old', 30)], 2, {}, { action: 'delete', providerRef: 'old' }],
    [
      'full of unknowns: an expired one first, even if younger',
      [s('old', 30), s('dead', 1, -1)],
      2,
      {},
      { action: 'delete', providerRef: 'dead' },
    ],
    [
      'current and pending hold every slot: blocked, never the current',
      [s('cur', 1), s('pend', 0)],
      2,
      { current: 'cur', pending: 'pend' },
      { action: 'blocked' },
    ],
    ['only the current, limit 1: blocked', [s('cur', 1)], 1, { current: 'cur' }, { action: 'blocked' }],
    [
      'a secret the provider authenticates with is never deleted; the other unknown one is',
      [{ ...s('boot', 30), inUse: true }, s('other', 1)],
      2,
      {},
      { action: 'delete', providerRef: 'other' },
    ],
    [
      'all in use (the provider cannot tell which): blocked, saying what to do',
      [
        { ...s('a', 30), inUse: true },
        { ...s('b', 1), inUse: true },
      ],
      2,
      {},
      { action: 'blocked', why: expect.stringMatching(/delete the one not in use/) },
    ],
  ] as const)('%s', (_name, live, max, known, expected) => {
    expect(chooseSlotToFree(live, max, known, NOW)).toMatchObject(expected);
  });
});
