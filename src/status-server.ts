/**
 * The daemon's HTTP face for monitoring (`http: { host, port }` in the config; off when absent):
 *   GET /healthz  200 while the scheduler runs (liveness)
 *   GET /readyz   200 when every secret has an unexpired current credential, else 503 (readiness)
 *   GET /metrics  Prometheus text format
 * Only ids, providers, times and counts are exposed: never a credential or a provider reference.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock, Logger } from './types';
import type { SecretSchedule } from './scheduler';

export interface StatusSource {
  snapshot(): SecretSchedule[];
  providerOf(secretId: string): string;
}

export interface StatusServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startStatusServer(
  source: StatusSource,
  options: { host: string; port: number; clock: Clock; log: Logger },
): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const now = options.clock.now();
    const secrets = source.snapshot();
    if (url === '/healthz') return json(res, 200, { status: 'ok' });
    if (url === '/readyz') {
      const notReady = secrets.filter((s) => !s.current || s.current.expiresAt <= now).map((s) => s.secretId);
      return json(res, notReady.length ? 503 : 200, { ready: notReady.length === 0, notReady });
    }
    if (url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(renderMetrics(secrets, source, now));
      return;
    }
    json(res, 404, { error: `no such endpoint ${url}; try /healthz, /readyz or /metrics` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  options.log.info({ url }, 'health and metrics endpoint listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
}

/** Prometheus exposition text. Label values are escaped as the format requires. */
export function renderMetrics(secrets: SecretSchedule[], source: Pick<StatusSource, 'providerOf'>, now: number): string {
  const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const ids = (s: SecretSchedule) => `secret="${label(s.secretId)}",provider="${label(source.providerOf(s.secretId))}"`;
  family('rotator_up', 'gauge', 'The rotator daemon is running.', [['', 1]]);
  family(
    'rotator_secret_expiry_timestamp_seconds',
    'gauge',
    'When the current credential expires (0: none yet).',
    secrets.map((s) => [`{${ids(s)}}`, s.current ? Math.floor(s.current.expiresAt / 1000) : 0]),
  );
  family(
    'rotator_secret_expires_in_seconds',
    'gauge',
    'Seconds until the current credential expires (negative: expired; absent: none yet).',
    secrets.filter((s) => s.current).map((s) => [`{${ids(s)}}`, Math.floor((s.current!.expiresAt - now) / 1000)]),
  );
  family(
    'rotator_secret_next_attempt_timestamp_seconds',
    'gauge',
    'When the scheduler next looks at the secret.',
    secrets.map((s) => [`{${ids(s)}}`, Math.floor(s.nextAttemptAt / 1000)]),
  );
  family(
    'rotator_secret_consecutive_failures',
    'gauge',
    'Failed attempts since the last success.',
    secrets.map((s) => [`{${ids(s)}}`, s.consecutiveFailures]),
  );
  family(
    'rotator_rotation_attempts_total',
    'counter',
    'Rotation attempts since start, by outcome.',
    secrets.flatMap((s) =>
      Object.entries(s.outcomes).map(([outcome, n]): [string, number] => [`{${ids(s)},outcome="${label(outcome)}"}`, n ?? 0]),
    ),
  );
  return `${lines.join('\n')}\n`;
}
