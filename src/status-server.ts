/**
 * The daemon's HTTP face for monitoring (`http: { host, port }` in the config; off when absent):
 *   GET /healthz  200 while the scheduler runs (liveness)
 *   GET /readyz   200 when every secret has an unexpired current credential, else 503 (readiness)
 *   GET /metrics  Prometheus text format (src/metrics.ts, prom-client)
 * Only ids, providers, times and counts are exposed: never a credential or a provider reference.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock, Logger } from './types';
import type { SecretSchedule } from './scheduler';
import { createMetrics, type Metrics } from './metrics';

export interface StatusSource {
  snapshot(): SecretSchedule[];
  providerOf(secretId: string): string;
  isPaused?(secretId: string): boolean;
}

export interface StatusServer {
  readonly url: string;
  /** The metrics served on /metrics (created here unless passed in). */
  readonly metrics: Metrics;
  close(): Promise<void>;
}

export async function startStatusServer(
  source: StatusSource,
  options: { host: string; port: number; clock: Clock; log: Logger; metrics?: Metrics },
): Promise<StatusServer> {
  const metrics = options.metrics ?? createMetrics({ clock: options.clock });
  metrics.bindSource(source);
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
      metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: unknown) => {
          options.log.error({ error: (err as Error).message }, 'metrics could not be collected');
          json(res, 500, { error: 'metrics could not be collected; see the daemon log' });
        },
      );
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
    metrics,
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
