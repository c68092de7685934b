/**
 * `rotate` on a terminal: one progress line rewritten in place ("rotating 3/35 · 1 failed"), then a
 * summary table. Only used when stderr is a TTY; pipes and log collectors get the plain result
 * lines instead, so nothing here is parsed by scripts. Written by hand (a dozen lines) rather
 * than with a progress-bar library: it needs no bar, timing or colours, only a counter.
 */
import { formatTable } from './output';

export interface Tally {
  done: number;
  total: number;
  failed: number;
}

/** The progress line's text, pure: "rotating 3/35 · 1 failed". */
export function progressLine({ done, total, failed }: Tally): string {
  return `rotating ${done}/${total}${failed ? ` · ${failed} failed` : ''}`;
}

/** One row of the closing summary. */
export interface SummaryRow {
  secretId: string;
  result: string;
  detail: string;
}

/** The closing summary: a table, then the tally ("35 secrets: 33 rotated, 1 not due, 1 failed"). */
export function formatSummary(rows: readonly SummaryRow[]): string {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.result, (counts.get(r.result) ?? 0) + 1);
  const tally = [...counts].map(([result, n]) => `${n} ${result}`).join(', ');
  const table = formatTable(
    ['SECRET', 'RESULT', 'DETAIL'],
    rows.map((r) => [r.secretId, r.result, r.detail]),
  );
  return `${table}\n${rows.length} secret${rows.length === 1 ? '' : 's'}: ${tally}`;
}

/** Rewrites the progress line on `stream` (a terminal) after each finished secret. */
export function createProgress(stream: NodeJS.WritableStream, total: number) {
  const tally: Tally = { done: 0, total, failed: 0 };
  const draw = () => stream.write(`\r\x1b[2K${progressLine(tally)}`);
  draw();
  return {
    finished(ok: boolean): void {
      tally.done += 1;
      if (!ok) tally.failed += 1;
      draw();
    },
    /** Clears the line so the summary starts on a clean one. */
    end(): void {
      stream.write('\r\x1b[2K');
    },
  };
}
