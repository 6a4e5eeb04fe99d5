/** Memory figures of another process from Linux's /proc (the benchmarks that use it need Linux). */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

export interface ProcStatus {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size ("high water mark") since start or the last resetPeak, bytes. */
  hwm: number;
  ppid: number;
}

export function procStatus(pid: number): ProcStatus {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]);
  };
  return { rss: field("VmRSS") * 1024, hwm: field("VmHWM") * 1024, ppid: field("PPid") };
}

/**
 * Resets the process's VmHWM to its current RSS (Linux ≥ 4.0, same user), so the next peak
 * read belongs to what happens after this call. Returns false where the kernel refuses.
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * CPU time the process (all its threads: V8 runs GC and compilation beside the main thread) has
 * used so far, in microseconds. Unlike latency, it is not inflated by other processes competing
 * for the machine. Sums /proc/<pid>/task/<tid>/schedstat (ns); threads that ended are not counted.
 */
export function cpuMicros(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1000;
}
