/**
 * Alerts from `rotate --if-due` run by cron (issue 11): no daemon remembers anything between
 * runs, so the vault's durable AttemptStatus before and after this run is what alerts are
 * decided on (src/notify/decide.ts; previousCheckAt defaults to the last attempt). Delivery is
 * awaited before the process exits, so a cron job does not end with an alert unsent.
 */
import type { Logger, SecretState } from '../types';
import type { Runtime } from '../runtime';
import { policyOf } from '../runtime';
import { describeError } from '../errors';

/** Runs `body` between two reads of the secrets' status and sends the alerts they call for. */
export async function withCronAlerts<T>(
  runtime: Runtime,
  ids: readonly string[],
  log: Logger,
  body: () => Promise<T>,
): Promise<T> {
  const targets = runtime.config.notify;
  if (!targets?.length) return body();
  // Loaded only when alerts are configured.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createAlertHub } = require('../notify/wire') as typeof import('../notify/wire');
  const before = await statuses(runtime, ids, log);
  const result = await body();
  const after = await statuses(runtime, ids, log);
  const secretOf = (id: string) => runtime.config.secrets.find((s) => s.id === id)!;
  const hub = createAlertHub(targets, { log, clock: runtime.clock, providerOf: (id) => secretOf(id).provider });
  for (const id of ids) {
    const state = after.get(id);
    const current = state?.current?.value;
    hub.evaluate({
      secretId: id,
      before: before.get(id)?.status,
      after: state?.status,
      current: current ? { issuedAt: Date.parse(current.issuedAt), expiresAt: Date.parse(current.expiresAt) } : undefined,
      paused: Boolean(policyOf(runtime.config, secretOf(id)).paused),
    });
  }
  await hub.idle();
  return result;
}

/** Each secret's state; one that cannot be read is left out (and logged), never failing the run. */
async function statuses(runtime: Runtime, ids: readonly string[], log: Logger): Promise<Map<string, SecretState>> {
  const { vault } = runtime;
  try {
    if (vault.readMany) return new Map(await vault.readMany([...ids]));
  } catch (err) {
    log.warn({ error: describeError(err) }, 'alerts: could not read the secrets’ status');
    return new Map();
  }
  const out = new Map<string, SecretState>();
  for (const id of ids) {
    try {
      out.set(id, await vault.read(id));
    } catch (err) {
      log.warn({ secretId: id, error: describeError(err) }, 'alerts: could not read the secret’s status');
    }
  }
  return out;
}
