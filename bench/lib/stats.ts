/** Latency statistics shared by the benchmarks. Figures are printed as ratios to a baseline run in the same process. */
export interface LatencyStats {
  p50: number;
  p99: number;
  opsPerSec: number;
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
    p50: samples[Math.floor(n * 0.5)] ?? 0,
    p99: samples[Math.floor(n * 0.99)] ?? 0,
    opsPerSec: n / totalSec,
  };
}

export function fmtStats(label: string, s: LatencyStats): string {
  return `${label.padEnd(34)} p50 ${s.p50.toFixed(1).padStart(7)} µs   p99 ${s.p99.toFixed(1).padStart(7)} µs   ${Math.round(s.opsPerSec).toString().padStart(8)} ops/s`;
}
