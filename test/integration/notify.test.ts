/**
 * Alerts over real HTTP on loopback: a webhook receiver and a Slack-compatible one get exactly
 * one `failure` after three refused attempts, one `recovered` after the next success, and one
 * `expiring` for a paused secret entering its expiry margin; no secret in any body.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Scheduler } from '../../src/scheduler';
import { ManualClock, systemClock } from '../../src/clock';
import { memoryLogger, silentLogger } from '../../src/log';
import { RotatorError } from '../../src/errors';
import { secrets } from '../../src/redact';
import { createAlertHub } from '../../src/notify/wire';
import { createDeliverer } from '../../src/notify/deliver';
import { notifySchema, type NotifyTarget } from '../../src/notify/schema';
import { MemoryVault } from '../support/memory-vault';
import { FakeProvider } from '../support/fake-provider';
import type { SecretSchedule } from '../../src/scheduler';

const H = 3_600_000;
const once = { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 };
const MASTER_KEY = 'master-key-that-must-not-leak-1234';

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** A receiver on 127.0.0.1:0 that answers with `statuses` in turn (then 200) and keeps bodies. */
async function receiver(statuses: number[] = []) {
  const got: Received[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      res.writeHead(status).end();
      if (status !== 200) return;
      got.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(raw) as Record<string, unknown> });
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    got,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const targets = (webhookUrl: string, slackUrl: string): NotifyTarget[] =>
  notifySchema.parse([
    { type: 'webhook', url: `${webhookUrl}/hook`, headers: { authorization: 'Bearer alert-token-xyz-987' } },
    { type: 'slack', url: `${slackUrl}/services/T0/B0/X0`, events: ['failure', 'recovered', 'expiring'] },
  ])!;

test('one failure after three refused attempts, one recovered after success, no secret in any body', async () => {
  secrets.add(MASTER_KEY);
  const hook = await receiver();
  const slack = await receiver();
  const clock = new ManualClock('2026-12-01T00:00:00Z');
  const provider = new FakeProvider({ lifetimeMs: 12 * H });
  // The provider refuses three times; the message quotes the master key by accident.
  provider.issueFailures = [1, 2, 3].map(
    () => new RotatorError('PROVIDER_AUTH', `the provider refused key ${MASTER_KEY} (401)`, { retryable: false }),
  );
  const log = memoryLogger();
  const hub = createAlertHub(targets(hook.url, slack.url), { log, clock, providerOf: () => 'fake', host: 'test-host' });
  const scheduler = new Scheduler({
    targets: [{ secretId: 'api', provider, policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 } }],
    rotation: {
      vault: new MemoryVault(clock),
      clock,
      log: silentLogger,
      owner: 'me',
      retry: { provider: once, verify: once, vaultRead: once, vaultWrite: once },
    },
    clock,
    log: silentLogger,
    schedule: '* * * * *',
    concurrency: 1,
    manualSweeps: true,
    onAttempt: (entry, result, error) => hub.onAttempt(entry, result, error),
  });
  try {
    await scheduler.start(); // attempt 1
    await scheduler.idle();
    for (let attempt = 2; attempt <= 4; attempt++) {
      clock.set(scheduler.snapshot()[0]!.nextAttemptAt);
      expect(scheduler.sweep()).toBe(1);
      await scheduler.idle();
      await hub.idle();
      if (attempt === 3) {
        expect(hook.got.map((r) => r.body.event)).toEqual(['failure']);
      }
    }
    await hub.idle();
    expect(provider.issueCalls).toBe(4);
    expect(hook.got.map((r) => r.body.event)).toEqual(['failure', 'recovered']);
    expect(slack.got.map((r) => Object.keys(r.body))).toEqual([['text'], ['text']]);

    const failure = hook.got[0]!;
    expect(failure.path).toBe('/hook');
    expect(failure.headers.authorization).toBe('Bearer alert-token-xyz-987');
    expect(failure.headers['content-type']).toBe('application/json');
    expect(failure.body).toEqual({
      event: 'failure',
      secretId: 'api',
      provider: 'fake',
      message: expect.stringContaining('failed 3 times in a row (PROVIDER_AUTH: the provider refused key [REDACTED] (401))'),
      consecutiveFailures: 3,
      error: { code: 'PROVIDER_AUTH', message: 'the provider refused key [REDACTED] (401)' },
      at: expect.stringMatching(/^2026-12-01T/),
      host: 'test-host',
    });
    expect(hook.got[1]!.body).toMatchObject({ event: 'recovered', consecutiveFailures: 0, expiresAt: expect.any(String) });
    expect(slack.got[0]!.body.text).toMatch(/^:rotating_light: rotator failure: rotation of api \(fake\) failed 3 times/);

    const everything = JSON.stringify([hook.got, slack.got, log.lines]);
    expect(everything).not.toContain(MASTER_KEY);
    for (const s of provider.issued) expect(everything).not.toContain(s.value);
    // The log names targets by type and host; never the Slack URL's path (a credential) or headers.
    expect(log.text()).not.toContain('/services/T0');
    expect(log.text()).not.toContain('alert-token-xyz-987');
  } finally {
    await scheduler.stop(1000);
    await hook.close();
    await slack.close();
  }
});

test('a paused secret entering its expiry margin gets exactly one expiring alert', async () => {
  const hook = await receiver();
  const slack = await receiver();
  const clock = new ManualClock('2026-12-01T00:00:00Z');
  const issuedAt = clock.now();
  const entry: SecretSchedule = {
    secretId: 'frozen',
    current: { issuedAt, expiresAt: issuedAt + 20 * H, rotationId: 'r1' },
    nextAttemptAt: Number.MAX_SAFE_INTEGER,
    consecutiveFailures: 0,
    running: false,
    outcomes: {},
  };
  const hub = createAlertHub(targets(hook.url, slack.url), {
    log: silentLogger,
    clock,
    providerOf: () => 'ncp-sts',
    isPaused: (id) => id === 'frozen',
    host: 'test-host',
  });
  try {
    for (const hour of [0, 18, 18.5, 19, 19.5]) {
      clock.set(issuedAt + hour * H);
      hub.check([entry]);
    }
    await hub.idle();
    // Emergency margin: 5% of 20 h = 1 h, so the alert comes at hour 19, once.
    expect(hook.got.map((r) => r.body.event)).toEqual(['expiring']);
    expect(hook.got[0]!.body).toMatchObject({
      secretId: 'frozen',
      provider: 'ncp-sts',
      expiresAt: '2026-12-01T20:00:00.000Z',
      at: '2026-12-01T19:00:00.000Z',
      consecutiveFailures: 0,
      message: expect.stringContaining('expires in 1h (2026-12-01T20:00:00.000Z); the secret is paused'),
    });
    expect(slack.got).toHaveLength(1);
  } finally {
    await hook.close();
    await slack.close();
  }
});

test('delivery retries a 503 with back-off and gives up on a 400 with one warning', async () => {
  const flaky = await receiver([503, 503]);
  const refusing = await receiver([400, 400, 400]);
  const log = memoryLogger();
  const alert = {
    event: 'failure' as const,
    secretId: 's',
    provider: 'p',
    message: 'm',
    consecutiveFailures: 3,
    at: '2026-12-01T00:00:00.000Z',
  };
  try {
    const [good, bad] = notifySchema.parse([
      { type: 'webhook', url: flaky.url, retries: 3 },
      { type: 'webhook', url: refusing.url, retries: 3 },
    ])!;
    const d1 = createDeliverer(good!, { log, clock: systemClock, retryBaseMs: 1 });
    const d2 = createDeliverer(bad!, { log, clock: systemClock, retryBaseMs: 1 });
    d1.send(alert);
    d2.send(alert);
    await Promise.all([d1.idle(), d2.idle()]);
    expect(flaky.got).toHaveLength(1);
    expect(refusing.got).toHaveLength(0);
    const warnings = log.lines.map((l) => JSON.parse(l) as { level: string; msg: string; error?: string });
    expect(warnings.filter((l) => l.msg.startsWith('alert could not be delivered'))).toEqual([
      expect.objectContaining({ level: 'warn', error: 'HTTP 400' }),
    ]);
  } finally {
    await flaky.close();
    await refusing.close();
  }
});
