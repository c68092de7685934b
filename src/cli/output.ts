/**
 * What the CLI prints on stdout: tables, JSON and env files. Pure functions of their input so
 * they are tested without a terminal.
 */
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

export function formatStatusTable(rows: StatusRow[], now: number): string {
  return formatTable(
    ['SECRET', 'PROVIDER', 'STATE', 'EXPIRES', 'RENEWS'],
    rows.map((r) => [
      r.secretId,
      r.provider,
      r.state,
      r.expiresAt ? `${r.expiresAt} (${relative(Date.parse(r.expiresAt) - now)})` : '-',
      r.renewsAt === 'now' || !r.renewsAt ? (r.renewsAt ?? '-') : `${r.renewsAt} (${relative(Date.parse(r.renewsAt) - now)})`,
    ]),
  );
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
