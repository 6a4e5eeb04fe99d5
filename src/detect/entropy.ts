/** Shannon entropy in bits per character, H = −Σ p(c)·log2 p(c), over code points (gitleaks `detect/utils.go`). */
export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  let length = 0;
  for (const char of s) {
    counts.set(char, (counts.get(char) ?? 0) + 1);
    length++;
  }
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / length;
    bits -= p * Math.log2(p);
  }
  return bits;
}
