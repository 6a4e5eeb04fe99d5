/**
 * The value a crash-test writer stores on its `index`-th write: long enough that a SIGKILL often
 * lands mid-transaction, and fully determined by the index so the parent can check that what
 * survived is exactly one of the values written, not a torn mix.
 */
export function loopValue(index: number, bytes = 64 * 1024): string {
  const head = `write ${index}:`;
  const fill = `${index.toString(36)}-`.repeat(Math.ceil(bytes / 4));
  return (head + fill).slice(0, Math.max(bytes, head.length));
}

/** The write index a loopValue was made from, or undefined if `value` is not exactly one. */
export function loopIndex(value: string, bytes = 64 * 1024): number | undefined {
  const match = /^write (\d+):/.exec(value);
  if (match === null) return undefined;
  const index = Number(match[1]);
  return loopValue(index, bytes) === value ? index : undefined;
}
