/** Latency statistics shared by the benchmarks. Figures are printed as ratios to a baseline run in the same process. */
export interface LatencyStats {
  p50: number;
  p99: number;
  opsPerSec: number;
}

/** Nearest-rank percentile `q` (0..1) of samples already sorted ascending. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
}

/** Times `op` n times with process.hrtime; returns microsecond percentiles and throughput. */
export async function measure(
  n: number,
  op: (i: number) => unknown | Promise<unknown>,
): Promise<LatencyStats> {
  const samples = new Float64Array(n);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const r = op(i);
    if (r instanceof Promise) await r;
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const totalSec = Number(process.hrtime.bigint() - start) / 1e9;
  samples.sort();
  return {
    p50: percentile(samples, 0.5),
    p99: percentile(samples, 0.99),
    opsPerSec: n / totalSec,
  };
}

/**
 * Times several ops call by call in turn (op 0, op 1, …, op 0, …), n calls each, so a change in
 * the machine's load over the run hits them all alike. Returns one LatencyStats per op, whose
 * opsPerSec counts only that op's own time.
 */
export async function measureInterleaved(
  n: number,
  ops: Array<(i: number) => unknown | Promise<unknown>>,
): Promise<LatencyStats[]> {
  const samples = ops.map(() => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    for (const [k, op] of ops.entries()) {
      const t0 = process.hrtime.bigint();
      const r = op(i);
      if (r instanceof Promise) await r;
      samples[k]![i] = Number(process.hrtime.bigint() - t0) / 1000;
    }
  }
  return samples.map((s) => {
    const totalSec = s.reduce((sum, us) => sum + us, 0) / 1e6;
    s.sort();
    return { p50: percentile(s, 0.5), p99: percentile(s, 0.99), opsPerSec: n / totalSec };
  });
}

/**
 * The median of each figure over repeated runs of one measurement: on a noisy machine one
 * unlucky run should not decide a ratio.
 */
export function medianOfRuns(runs: LatencyStats[]): LatencyStats {
  const median = (pick: (s: LatencyStats) => number): number =>
    percentile(
      runs.map(pick).sort((a, b) => a - b),
      0.5,
    );
  return {
    p50: median((s) => s.p50),
    p99: median((s) => s.p99),
    opsPerSec: median((s) => s.opsPerSec),
  };
}

export function fmtStats(label: string, s: LatencyStats): string {
  return `${label.padEnd(34)} p50 ${s.p50.toFixed(1).padStart(7)} µs   p99 ${s.p99.toFixed(1).padStart(7)} µs   ${Math.round(s.opsPerSec).toString().padStart(8)} ops/s`;
}
