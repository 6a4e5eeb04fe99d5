// Apart from the issue translation (src/config/issues.ts), which loads zod: a config read from
// the cache (src/config/cache.ts) suggests profile names without it.

/** The closest candidate, if it is close enough to be what was meant. */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  // Case, _ and - are the usual slips (set_env, argument_policy, SetEnv).
  const normalize = (s: string) => s.toLowerCase().replace(/[_-]/g, "");
  const wanted = normalize(input);
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, normalize(candidate));
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  if (best === undefined) return undefined;
  return best.distance <= Math.max(1, Math.floor(wanted.length / 3)) ? best.candidate : undefined;
}

// Edit distance counting a swap of neighbours as one edit (hihg → high); a dozen lines do
// not justify a dependency.
function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const at = (r: number, c: number) => rows[r]?.[c] ?? row[c] ?? 0;
      let best = Math.min(
        at(i - 1, j) + 1,
        at(i, j - 1) + 1,
        at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      row[j] = best;
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}
