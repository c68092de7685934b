/**
 * Delivers alerts to one `notify:` target over HTTP: `webhook` gets the alert as JSON, `slack`
 * an incoming-webhook body (`{ text }`, also what Mattermost and Rocket.Chat accept).
 *
 * Contracts:
 * - `send` returns at once; delivery runs in the background with retries and back-off, so an
 *   alert never blocks or delays a rotation. Failures end in one warning log line, never a throw.
 * - Bodies pass through the secret registry (`secrets.scrub`) last, so an error message that
 *   happened to quote a secret is sent as [REDACTED].
 * - The URL (a Slack webhook URL is itself a credential) and the headers are never logged: log
 *   lines name the target by type and host only.
 * Built on Node's fetch: one POST with a timeout needs no HTTP library.
 */
import { hostname } from 'node:os';
import type { Clock, Logger } from '../types';
import { secrets } from '../redact';
import { withRetry } from '../retry';
import { systemClock } from '../clock';
import type { Alert } from './decide';
import type { NotifyTarget } from './schema';

export interface DeliveryDeps {
  log: Logger;
  /** For back-off sleeps; default the system clock. */
  clock?: Clock;
  /** Reported as `host`; default os.hostname(). */
  host?: string;
  /** First back-off delay (ms), doubled per retry up to a minute; default 1 s. */
  retryBaseMs?: number;
}

export interface Deliverer {
  /** Queues the alert for delivery and returns at once. */
  send(alert: Alert): void;
  /** Resolves when every alert sent so far was delivered or given up (tests, shutdown). */
  idle(): Promise<void>;
}

/** The JSON body of a `webhook` target. */
export function webhookBody(alert: Alert, host: string): string {
  return secrets.scrub(JSON.stringify({ ...alert, host }));
}

/** The body of a `slack` target: one line a person reads in a channel. */
export function slackBody(alert: Alert, host: string): string {
  const icon = alert.event === 'recovered' ? ':white_check_mark:' : ':rotating_light:';
  return secrets.scrub(JSON.stringify({ text: `${icon} rotator ${alert.event}: ${alert.message} (host ${host}, ${alert.at})` }));
}

class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export function createDeliverer(target: NotifyTarget, deps: DeliveryDeps): Deliverer {
  const host = deps.host ?? hostname();
  const clock = deps.clock ?? systemClock;
  const label = `${target.type} ${new URL(target.url).host}`;
  const inFlight = new Set<Promise<void>>();

  async function post(alert: Alert): Promise<void> {
    const body = target.type === 'slack' ? slackBody(alert, host) : webhookBody(alert, host);
    const headers = { ...(target.type === 'webhook' ? target.headers : {}), 'content-type': 'application/json' };
    await withRetry(
      async () => {
        let res: Response;
        try {
          res = await fetch(target.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(target.timeout) });
        } catch (err) {
          // Connection refused, DNS, timeout: the receiver may come back.
          const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
          throw new DeliveryError(`no response (${code})`, true);
        }
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        throw new DeliveryError(`HTTP ${res.status}`, res.status >= 500 || res.status === 429 || res.status === 408);
      },
      {
        what: `alert to ${label}`,
        clock,
        log: deps.log,
        policy: { attempts: target.retries, baseDelayMs: deps.retryBaseMs ?? 1_000, maxDelayMs: 60_000 },
        retryable: (err) => err instanceof DeliveryError && err.retryable,
      },
    );
  }

  return {
    send(alert) {
      const run = post(alert)
        .then(() => deps.log.debug({ notify: label, event: alert.event, secretId: alert.secretId }, 'alert delivered'))
        .catch((err: unknown) =>
          deps.log.warn(
            { notify: label, event: alert.event, secretId: alert.secretId, error: (err as Error).message },
            'alert could not be delivered; giving up on it',
          ),
        )
        .finally(() => inFlight.delete(run));
      inFlight.add(run);
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
