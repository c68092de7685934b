import { cpus } from 'node:os';
/**
 * A tiny benchmark harness: runs a body for a fixed count after a warm-up and reports
 * operations per second and latency percentiles. Results are printed as a table at the end of
 * the run (and returned), never asserted against a time: timing assertions are flaky on shared
 * machines; figures go in notes with the command that produced them.
 */
export interface BenchResult {
  name: string;
  ops: number;
  totalMs: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  extra?: Record<string, string | number>;
}

const results: BenchResult[] = [];

export async function bench(
  name: string,
  count: number,
  body: (i: number) => Promise<unknown> | unknown,
  options: { warmup?: number; extra?: () => Record<string, string | number> } = {},
): Promise<BenchResult> {
  for (let i = 0; i < (options.warmup ?? Math.min(20, count)); i++) await body(-1 - i);
  const latencies: number[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    await body(i);
    latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const totalMs = Number(process.hrtime.bigint() - start) / 1e6;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  const result: BenchResult = {
    name,
    ops: count,
    totalMs,
    opsPerSec: (count / totalMs) * 1000,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    ...(options.extra ? { extra: options.extra() } : {}),
  };
  results.push(result);
  return result;
}

export function report(): string {
  const lines = results.map((r) => {
    const extra = r.extra
      ? '  ' +
        Object.entries(r.extra)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')
      : '';
    return `${r.name.padEnd(52)} ${r.opsPerSec.toFixed(1).padStart(10)} ops/s  p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  (n=${r.ops})${extra}`;
  });
  return ['', `node ${process.version}, ${cpus().length} cpus`, ...lines].join('\n');
}
