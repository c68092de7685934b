/**
 * What the CLI prints on stdout: tables, JSON and env files. Pure functions of their input so
 * they are tested without a terminal.
 */
import { stringify as toYaml } from 'yaml';
import type { VaultValue } from '../types';
import type { StatusRow } from '../status';

export type { StatusRow } from '../status';

/** A plain aligned table; no colours so it pipes cleanly. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `-o` formats of `status`, `plan`, `rotate` and `validate`; `--json` is an alias of `-o json`. */
export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The format asked for: `--json` wins (it is the older spelling), then `-o`, else a table. */
export function outputFormat(opts: { json?: boolean; output?: OutputFormat }): OutputFormat {
  return opts.json ? 'json' : (opts.output ?? 'table');
}

/** JSON (2-space indent) or YAML of `data`, ending with a newline; undefined for table formats. */
export function formatData(format: OutputFormat, data: unknown): string | undefined {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  if (format === 'yaml') return toYaml(data);
  return undefined;
}

/** The width `status` fits by default: a classic terminal. */
export const STATUS_WIDTH = 80;
const ID_MAX = 28;

/** "2h 5m" without a direction, for the LEFT column. */
const span = (ms: number) => relative(Math.abs(ms)).replace(/^in /, '');

/** Time left before the current credential expires, in human units: "2h 5m", "expired", "-". */
export function timeLeft(row: StatusRow, now: number): string {
  if (!row.expiresAt) return '-';
  const left = Date.parse(row.expiresAt) - now;
  return left > 0 ? span(left) : 'expired';
}

/** What happens next and when, short: "rotate now", "renew in 40m", "retry in 5m", "never (paused)". */
export function nextShort(row: StatusRow, now: number): string {
  if (!row.renewsAt) return row.state === 'paused' ? 'never (paused)' : 'never';
  // After a failure the next attempt is a retry (backing off), whatever the credential's state.
  const verb = row.consecutiveFailures ? 'retry' : row.currentVersion ? 'renew' : 'issue';
  if (row.renewsAt === 'now') return `${verb} now`;
  const wait = Date.parse(row.renewsAt) - now;
  return wait > 0 ? `${verb} in ${span(wait)}` : `${verb} now`;
}

/** Cuts `text` to `max` characters, marking the cut with "…". */
export function clip(text: string, max: number): string {
  if (max <= 0) return '';
  return text.length <= max ? text : `${text.slice(0, Math.max(max - 1, 0))}…`;
}

/**
 * `status` (default): one line per secret that fits `width` columns: id (long ids clipped), state
 * word, time left and next action in human units, then the failure count and last error code
 * (clipped to what fits; `-o wide` and `status <id>` have the whole error).
 */
export function formatStatusTable(rows: StatusRow[], now: number, width = STATUS_WIDTH): string {
  const body = rows.map((r) => [
    clip(r.secretId, ID_MAX),
    r.state,
    timeLeft(r, now),
    nextShort(r, now),
    r.lastError ? `${r.consecutiveFailures ? `${r.consecutiveFailures}× ` : ''}${r.lastError.code}` : '',
  ]);
  const lines = formatTable(['SECRET', 'STATE', 'LEFT', 'NEXT', 'LAST ERROR'], body).split('\n');
  return lines.map((l) => clip(l, width)).join('\n');
}

/** `status -o wide`: every column, full ids and ISO times; wider than 80 columns. */
export function formatStatusWide(rows: StatusRow[], now: number): string {
  return formatTable(
    ['SECRET', 'PROVIDER', 'STATE', 'EXPIRES', 'LEFT', 'NEXT', 'AT', 'FAILURES', 'LAST ERROR', 'DISTRIBUTED'],
    rows.map((r) => [
      r.secretId,
      r.provider,
      r.state,
      r.expiresAt ?? '-',
      timeLeft(r, now),
      nextShort(r, now),
      r.renewsAt === 'now' ? 'now' : (r.renewsAt ?? '-'),
      String(r.consecutiveFailures ?? 0),
      r.lastError ? `${r.lastError.code}: ${r.lastError.message}` : '-',
      r.distribution ? `${r.distribution.ok ? 'ok' : 'failed'} ${r.distribution.at}` : '-',
    ]),
  );
}

/** The states `status --check` reports as needing attention (exit 1). */
export const NEEDS_ATTENTION: readonly StatusRow['state'][] = ['failing', 'expiring', 'expired', 'missing'];

export function needsAttention(row: StatusRow): boolean {
  return NEEDS_ATTENTION.includes(row.state);
}

/** What `status <id>` adds to the row: the secret's outputs, described without secrets. */
export interface StatusDetail extends StatusRow {
  outputs: string[];
  window?: string;
}

/** `status <id>`: one secret, one fact per line. */
export function formatStatusDetail(d: StatusDetail, now: number): string {
  const at = (iso: string | undefined) => (iso ? `${iso} (${relative(Date.parse(iso) - now)})` : '-');
  const lines: [string, string][] = [
    ['secret', d.secretId],
    ['provider', d.provider],
    ['state', d.state],
    ['issued', d.issuedAt ?? '-'],
    ['expires', at(d.expiresAt)],
    ['next', `${d.renewsAt === 'now' ? 'now' : at(d.renewsAt)}: ${d.next}`],
    ['window', d.window ?? 'any time'],
    ['versions', versions(d)],
    ['last attempt', d.lastAttemptAt ?? '-'],
    ['last success', d.lastSuccessAt ?? '-'],
    ['failures', String(d.consecutiveFailures ?? 0)],
    ['last error', d.lastError ? `${d.lastError.code}: ${d.lastError.message}` : '-'],
    ['next attempt', at(d.nextAttemptAt)],
    [
      'distribution',
      d.distribution
        ? `${d.distribution.ok ? 'ok' : `failed: ${d.distribution.error ?? 'unknown error'}`} at ${d.distribution.at}`
        : '-',
    ],
    ['outputs', d.outputs.length ? d.outputs.join('\n              ') : 'none'],
  ];
  return lines.map(([k, v]) => `${`${k}:`.padEnd(14)}${v}`).join('\n');
}

function versions(d: StatusRow): string {
  const parts = [
    d.currentVersion ? `current ${d.currentVersion}` : undefined,
    d.pendingVersion ? `pending ${d.pendingVersion}` : undefined,
    d.previousVersion ? `previous ${d.previousVersion}` : undefined,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'none';
}

/** `rotator plan`: one line per secret, soonest first, saying when and why it rotates. */
export function formatPlan(rows: StatusRow[], now: number): string {
  return formatTable(
    ['WHEN', 'SECRET', 'WHY'],
    rows.map((r) => {
      if (!r.renewsAt) return ['never', r.secretId, r.next];
      if (r.renewsAt === 'now') return ['now', r.secretId, r.next];
      return [`${r.renewsAt} (${relative(Date.parse(r.renewsAt) - now)})`, r.secretId, r.next];
    }),
  );
}

/** "in 2h 5m" / "3m ago". */
export function relative(ms: number): string {
  const abs = Math.abs(ms);
  const parts: string[] = [];
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  let rest = abs;
  for (const [name, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${name}`);
      rest %= size;
    }
  }
  const text = parts.length ? parts.join(' ') : '0s';
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** Reads `a.b.c` from a value; a bare credential field name (`accessKey`) also works. */
export function pickField(value: VaultValue, path: string): unknown {
  const walk = (root: unknown) =>
    path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as any)[key] : undefined), root);
  const direct = walk(value);
  return direct !== undefined ? direct : walk(value.credentials);
}
