import { notifySchema } from '../../src/notify/schema';

const messages = (input: unknown) => {
  const r = notifySchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('notify: config', () => {
  test('defaults: threshold 3, 10 s timeout, 5 attempts, every event, no repeat', () => {
    expect(notifySchema.parse([{ type: 'slack', url: 'https://hooks.slack.com/services/T/B/X' }])).toEqual([
      { type: 'slack', url: 'https://hooks.slack.com/services/T/B/X', failureThreshold: 3, timeout: 10_000, retries: 5 },
    ]);
  });

  test('durations and interpolated numbers are read', () => {
    const [t] = notifySchema.parse([
      {
        type: 'webhook',
        url: 'http://127.0.0.1:9/x',
        failureThreshold: '5',
        repeat: '4h',
        expiringMargin: '2d',
        headers: { a: 'b' },
      },
    ])!;
    expect(t).toMatchObject({ failureThreshold: 5, repeat: 4 * 3_600_000, expiringMargin: 2 * 86_400_000, headers: { a: 'b' } });
  });

  test.each([
    [[{ type: 'email', url: 'http://x' }], /0\.type.*webhook.*slack|type: webhook/],
    [[{ type: 'webhook' }], /0\.url: is required/],
    [[{ type: 'webhook', url: 'ftp://x' }], /0\.url: must be an http\(s\) URL/],
    [
      [{ type: 'webhook', url: 'http://x', events: ['failed'] }],
      /0\.events\.0: must be one of failure, expiring, recovered, distribution-failed/,
    ],
    [[{ type: 'webhook', url: 'http://x', repeat: '10' }], /0\.repeat: must be a duration/],
    [[{ type: 'slack', url: 'http://x', headers: {} }], /0: Unrecognized key.*headers|headers/],
    [[{ type: 'webhook', url: 'http://x', failureThreshold: 0 }], /0\.failureThreshold: must be an integer from 1 to 1000/],
  ])('rejects %j with a message saying what to fix', (input, pattern) => {
    expect(messages(input).join('\n')).toMatch(pattern);
  });

  test('a 20-digit duration is an issue of its key, not an escaping FormatError (same field as the rest of the config)', () => {
    const issues = messages([{ type: 'slack', url: 'https://hooks.slack.com/services/T/B/X', timeout: '99999999999999999999s' }]);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^0\.timeout: /);
  });
});
