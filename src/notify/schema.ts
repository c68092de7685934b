/**
 * The `notify:` list of rotator.config.yaml: where alerts go. Owned here so that the config
 * owner imports {@link notifySchema} into the config schema; it depends only on zod and the
 * duration parser, never on config/schema.ts (which imports it).
 *
 *   notify:
 *     - type: slack
 *       url: ${SLACK_WEBHOOK_URL}
 *     - type: webhook
 *       url: https://alerts.example.com/rotator
 *       headers: { Authorization: "Bearer ${ALERT_TOKEN}" }
 *       events: [failure, expiring]
 *       failureThreshold: 3
 *       repeat: 4h
 *
 * `${ENV}` in header values (and anywhere else) is interpolated by the config loader.
 */
import { z } from 'zod';
import { durationField as duration } from '../duration-field';

/** Every alert event, in the order the docs list them. */
export const ALERT_EVENTS = ['failure', 'expiring', 'recovered', 'distribution-failed'] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

export const NOTIFY_DEFAULTS = {
  failureThreshold: 3,
  timeout: '10s',
  retries: 5,
} as const;

const httpUrl = z
  .string({ error: 'is required: the http(s) URL to POST alerts to' })
  .refine((text) => /^https?:\/\/[^\s/]+(\/\S*)?$/.test(text) && URL.canParse(text), {
    error: 'must be an http(s) URL, e.g. https://hooks.slack.com/services/T000/B000/XXXX',
  });

const intFrom = (min: number, max: number) => {
  const allowed = { error: `must be an integer from ${min} to ${max}` };
  const bounded = z.number(allowed).int(allowed).min(min, allowed).max(max, allowed);
  // Interpolated values (`${N}`) arrive as strings.
  return z.union([bounded, z.string().regex(/^\d+$/, allowed).transform(Number).pipe(bounded)], allowed);
};

const common = {
  url: httpUrl,
  /** Which events this target receives; default all. */
  events: z
    .array(z.enum(ALERT_EVENTS, { error: `must be one of ${ALERT_EVENTS.join(', ')}` }))
    .min(1, { error: 'must list at least one event (or leave `events` out for all)' })
    .optional(),
  /** `failure` fires when this many attempts in a row have failed. */
  failureThreshold: intFrom(1, 1000).prefault(NOTIFY_DEFAULTS.failureThreshold),
  /**
   * `expiring` fires when the current credential expires within this; default the emergency
   * margin (5% of its lifetime, see src/renewal.ts EMERGENCY_FRACTION).
   */
  expiringMargin: duration(1_000, 365 * 86_400_000).optional(),
  /** Repeat an alert whose condition still holds after this long; default never. */
  repeat: duration(60_000, 30 * 86_400_000).optional(),
  /** Per delivery attempt. */
  timeout: duration(100, 120_000).prefault(NOTIFY_DEFAULTS.timeout),
  /** Delivery attempts in all, with exponential back-off, before the alert is dropped (and logged). */
  retries: intFrom(1, 20).prefault(NOTIFY_DEFAULTS.retries),
};

export const webhookNotifySchema = z.strictObject({
  type: z.literal('webhook'),
  ...common,
  /** Extra request headers (e.g. Authorization); values are secret and never logged. */
  headers: z.record(z.string(), z.string({ error: 'must be a string (header value)' })).optional(),
});

export const slackNotifySchema = z.strictObject({
  type: z.literal('slack'),
  ...common,
});

export const notifyTargetSchema = z.discriminatedUnion('type', [webhookNotifySchema, slackNotifySchema], {
  error: 'must have `type: webhook` or `type: slack`',
});

/** The `notify:` key: a list of alert targets; absent means no alerts. */
export const notifySchema = z.array(notifyTargetSchema).optional();

/** One validated target (durations in ms). */
export type NotifyTarget = z.output<typeof notifyTargetSchema>;
/** The `notify:` list as written. */
export type NotifyConfigInput = z.input<typeof notifySchema>;
