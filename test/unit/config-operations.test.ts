/**
 * The operations keys of the config (issue 11): `window` and `paused` per secret and in
 * `defaults`, and the `notify:` list, down to the RenewalPolicy the engine reads (policyOf).
 */
import { join, resolve } from 'node:path';
import { ConfigError, parseConfig } from '../../config/load';
import { SecretRegistry } from '../../src/redact';
import { policyOf } from '../../src/runtime';
import { fakePlugins } from '../fixtures/config/plugins';

const ROOT = resolve(__dirname, '../..');
const ENV = { NCP_ACCESS_KEY: 'AKID-test-access', NCP_SECRET_KEY: 'test-secret-key-0001', HOOK_TOKEN: 'tok-1' };

function parse(text: string) {
  return parseConfig(text, {
    env: ENV,
    plugins: fakePlugins,
    secretRegistry: new SecretRegistry(),
    file: 'inline.yaml',
    absolute: join(ROOT, 'inline.yaml'),
  });
}

const secret = (id: string, extra = '') =>
  `  - id: ${id}\n    provider: ncp-sts\n    credentials: { accessKey: "\${NCP_ACCESS_KEY}", secretKey: "\${NCP_SECRET_KEY}" }\n${extra}`;

function problems(text: string): string {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('window and paused', () => {
  test('a secret inherits the defaults and overrides them; policyOf carries both to the engine', () => {
    const config = parse(
      [
        'defaults:',
        '  window: { start: "0 2 * * *", duration: 3h, timezone: Asia/Seoul }',
        '  paused: true',
        'secrets:',
        secret('inherits'),
        secret('own', '    window: { start: "30 4 * * 1", duration: 90m }\n    paused: false\n'),
      ].join('\n'),
    );
    const [inherits, own] = config.secrets;
    expect(policyOf(config, inherits!)).toMatchObject({
      paused: true,
      window: { start: '0 2 * * *', durationMs: 3 * 3_600_000, timezone: 'Asia/Seoul' },
    });
    const ownPolicy = policyOf(config, own!);
    expect(ownPolicy.window).toEqual({ start: '30 4 * * 1', durationMs: 90 * 60_000 });
    expect(ownPolicy.paused).toBeFalsy();
  });

  test('without them a secret rotates any time and is not paused', () => {
    const config = parse(`secrets:\n${secret('plain')}`);
    const policy = policyOf(config, config.secrets[0]!);
    expect(policy.window).toBeUndefined();
    expect(policy.paused).toBeFalsy();
  });

  test('paused accepts "true" from interpolation', () => {
    const config = parse(`secrets:\n${secret('s', '    paused: "${PAUSE:-true}"\n')}`);
    expect(config.secrets[0]!.paused).toBe(true);
  });

  test.each([
    ['a bad cron', '    window: { start: "99 * * * *", duration: 1h }\n', /window\.start must be a cron expression/],
    ['a zero duration', '    window: { start: "0 2 * * *", duration: 0s }\n', /window\.duration must be a positive duration/],
    ['an unknown timezone', '    window: { start: "0 2 * * *", duration: 1h, timezone: Mars/Base }\n', /IANA timezone/],
    ['paused: yes-ish text', '    paused: maybe\n', /paused.*must be true or false/],
  ])('%s is a config problem at its key', (_name, extra, message) => {
    expect(problems(`secrets:\n${secret('s', extra)}`)).toMatch(message);
  });
});

describe('notify', () => {
  test('targets are validated, durations in ms, header values interpolated', () => {
    const config = parse(
      [
        'notify:',
        '  - type: webhook',
        '    url: http://127.0.0.1:9/hook',
        '    headers: { Authorization: "Bearer ${HOOK_TOKEN}" }',
        '    repeat: 4h',
        '  - type: slack',
        '    url: https://hooks.slack.com/services/T/B/X',
        '    events: [failure]',
        'secrets: []',
      ].join('\n'),
    );
    expect(config.notify).toEqual([
      expect.objectContaining({
        type: 'webhook',
        headers: { Authorization: 'Bearer tok-1' },
        repeat: 4 * 3_600_000,
        failureThreshold: 3,
      }),
      expect.objectContaining({ type: 'slack', events: ['failure'] }),
    ]);
  });

  test('absent or empty: no notify key at all', () => {
    expect(parse('secrets: []\n')).not.toHaveProperty('notify');
    expect(parse('notify: []\nsecrets: []\n')).not.toHaveProperty('notify');
  });

  test('a target without a url, or of an unknown type, says what to write', () => {
    expect(problems('notify:\n  - type: webhook\nsecrets: []\n')).toMatch(/notify\[0\]\.url.*http\(s\) URL/);
    expect(problems('notify:\n  - type: pager\n    url: http://x/\nsecrets: []\n')).toMatch(/type: webhook.*type: slack/);
  });
});
