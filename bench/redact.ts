/**
 * Redaction throughput: the Redactor against a naive per-needle `Buffer.indexOf` scan over the
 * same needles, measured in the same run, for 10 / 100 / 1,000 live secrets on 1 MiB and
 * 64 MiB payloads of two kinds:
 *   json   — JSON-RPC tool results (64 KiB lines) of prose, paths and numbers, a secret in
 *            some encoding sprinkled in about one line in 32; each line redacted on its own,
 *            as the proxy does;
 *   base64 — one image result line whose base64 `data` embeds one secret at an odd offset.
 * The naive scan on 64 MiB is measured for 10 secrets and extrapolated from its 1 MiB rate
 * for 100 and 1,000 (it would take minutes); such rows are marked "~".
 *
 * Run: node --import tsx bench/redact.ts   or, compiled: node dist/bench/redact.js
 */
import { randomBytes } from "node:crypto";
import { deriveNeedles } from "../src/redact/forms.js";
import { DEFAULT_MIN_LENGTH, Redactor, type Secret } from "../src/redact/index.js";

const MiB = 1 << 20;
const LINE = 64 * 1024;
const TARGET = { json: 500, base64: 200, small: 1000, ratio: 20 };

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
function randomString(alphabet: string, n: number): string {
  return Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join("");
}

/** High-entropy 40-character tokens in the shapes of common providers. */
const SHAPES: Array<() => string> = [
  () => `ghp_${randomString(BASE62, 36)}`,
  () => `xoxb-${randomString("0123456789", 12)}-${randomString(BASE62, 22)}`,
  () => `sk-proj-${randomString(`${BASE62}_-`, 32)}`,
  () => randomString(`${BASE62}+/`, 40), // AWS secret access key
  () => `glpat-${randomString(`${BASE62}_-`, 34)}`,
];

function makeSecrets(n: number): Secret[] {
  return Array.from({ length: n }, (_, i) => ({ name: `svc${i}/token`, value: SHAPES[i % 5]!() }));
}

const WORDS = (
  "the of and to in is for on that with as by this from issue pull request review merged " +
  "branch commit failed passed build deploy error warning user repository file path line " +
  "function returns value config server client tool result content text resource"
).split(" ");

function prose(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const r = Math.random();
    const part =
      r < 0.8
        ? WORDS[Math.floor(Math.random() * WORDS.length)]!
        : r < 0.9
          ? String(Math.floor(Math.random() * 1e6))
          : `/src/${WORDS[Math.floor(Math.random() * WORDS.length)]}/index.ts:${Math.floor(Math.random() * 900)}`;
    parts.push(part);
    size += part.length + 1;
  }
  return parts.join(" ");
}

/** A secret as the server might leak it: raw, Basic auth, hex, URL query, truncated. */
function leak(value: string): string {
  const forms = [
    value,
    `Basic ${Buffer.from(`bot:${value}`).toString("base64")}`,
    Buffer.from(value).toString("hex"),
    `https://api.example.com/v1/items?key=${encodeURIComponent(value)}`,
    `${value.slice(0, 16)}…`,
  ];
  return forms[Math.floor(Math.random() * forms.length)]!;
}

function jsonLines(size: number, secrets: Secret[]): { lines: Buffer[]; planted: number } {
  const lines: Buffer[] = [];
  let planted = 0;
  for (let total = 0, id = 1; total < size; id++) {
    const blocks: string[] = [];
    for (let b = 0; b < 32; b++) blocks.push(prose(LINE / 32 - 40));
    if (id % 32 === 0) {
      blocks[7] += ` auth failed: ${leak(secrets[id % secrets.length]!.value)}`;
      planted++;
    }
    const message = {
      jsonrpc: "2.0",
      id,
      result: {
        content: blocks.map((text) => ({ type: "text", text })),
        structuredContent: { count: blocks.length, ok: true },
        isError: false,
      },
    };
    const line = Buffer.from(`${JSON.stringify(message)}\n`);
    lines.push(line);
    total += line.length;
  }
  return { lines, planted };
}

function base64Line(size: number, secrets: Secret[]): { lines: Buffer[]; planted: number } {
  const image = randomBytes(Math.floor((size * 3) / 4) - 200);
  Buffer.from(secrets[0]!.value).copy(image, 1001); // offset 1 (mod 3) inside the run
  const message = {
    jsonrpc: "2.0",
    id: 1,
    result: { content: [{ type: "image", mimeType: "image/png", data: image.toString("base64") }] },
  };
  return { lines: [Buffer.from(`${JSON.stringify(message)}\n`)], planted: 1 };
}

/**
 * Best of one warm-up and `reps` more runs, in MB/s (10^6 bytes per second); `run` returns
 * its own time in ms.
 */
function rate(bytes: number, reps: number, run: () => number): number {
  let best = run();
  for (let r = 0; r < reps; r++) best = Math.min(best, run());
  return bytes / 1e6 / (best / 1000);
}

function timed(run: () => void): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

/**
 * The proxy's way: each line is a buffer it owns, redacted in place. Lines are refilled from
 * the payload before each run (untimed) since redaction overwrites them.
 */
function redactLines(
  redactor: Redactor,
  lines: Buffer[],
  owned: Buffer[],
): { ms: number; hits: number } {
  let ms = 0;
  let hits = 0;
  lines.forEach((line, i) => {
    line.copy(owned[i]!);
    const t0 = performance.now();
    hits += redactor.redactBuffer(owned[i]!, { inPlace: true }).hits.length;
    ms += performance.now() - t0;
  });
  return { ms, hits };
}

function naiveScan(lines: Buffer[], needles: Buffer[]): number {
  let found = 0;
  for (const line of lines) {
    for (const needle of needles) {
      for (let at = line.indexOf(needle); at !== -1; at = line.indexOf(needle, at + 1)) found++;
    }
  }
  return found;
}

const fmt = (n: number, width: number, digits = 0): string => n.toFixed(digits).padStart(width);

function main(): void {
  const started = performance.now();
  console.log(
    "secrets needles payload   size  build ms  hits/planted  engine MB/s  copying MB/s  text MB/s  naive MB/s   ×naive  target",
  );
  for (const count of [10, 100, 1000]) {
    const secrets = makeSecrets(count);
    const t0 = performance.now();
    const redactor = new Redactor(secrets);
    const buildMs = performance.now() - t0;
    const needles = secrets.flatMap((s) =>
      deriveNeedles(s.value, DEFAULT_MIN_LENGTH).map((n) => Buffer.from(n.bytes)),
    );
    const naivePerByte: Record<string, number> = {};
    for (const kind of ["json", "base64"] as const) {
      for (const size of [MiB, 64 * MiB]) {
        const { lines, planted } = (kind === "json" ? jsonLines : base64Line)(size, secrets);
        const bytes = lines.reduce((n, l) => n + l.length, 0);
        const owned = lines.map((line) => Buffer.alloc(line.length));
        let hits = 0;
        const engine = rate(bytes, size === MiB ? 20 : 2, () => {
          const run = redactLines(redactor, lines, owned);
          hits = run.hits;
          return run.ms;
        });
        const copying = rate(bytes, size === MiB ? 20 : 2, () =>
          timed(() => {
            for (const line of lines) redactor.redactBuffer(line);
          }),
        );
        const texts = lines.map((line) => line.toString("utf8"));
        const asText = rate(bytes, size === MiB ? 20 : 2, () =>
          timed(() => {
            for (const text of texts) redactor.redactText(text);
          }),
        );
        let naive: number;
        let estimated = false;
        if (size === MiB || count === 10) {
          const scan = () => timed(() => naiveScan(lines, needles));
          naive = rate(bytes, size === MiB && count <= 100 ? 3 : 0, scan);
          naivePerByte[kind] = naive;
        } else {
          naive = naivePerByte[kind]!;
          estimated = true;
        }
        const target = count === 10 ? TARGET.small : kind === "json" ? TARGET.json : TARGET.base64;
        const ratio = engine / naive;
        const meets = engine >= target && (count < 1000 || ratio >= TARGET.ratio);
        console.log(
          [
            fmt(count, 7),
            fmt(needles.length, 7),
            kind.padStart(7),
            `${size / MiB} MiB`.padStart(6),
            fmt(buildMs, 9, 1),
            `${hits}/${planted}`.padStart(13),
            fmt(engine, 12),
            fmt(copying, 12),
            fmt(asText, 9),
            `${estimated ? "~" : ""}${naive.toFixed(1)}`.padStart(11),
            `${estimated ? "~" : ""}${ratio.toFixed(0)}×`.padStart(8),
            `≥${target}${count === 1000 ? `, ≥${TARGET.ratio}×` : ""} ${meets ? "ok" : "MISSED"}`,
          ].join(" "),
        );
      }
    }
  }
  console.log(
    `\nMB = 10^6 bytes. engine = redactBuffer(line, { inPlace: true }) per line, as the proxy ` +
      `calls it; copying = redactBuffer(line) into a fresh buffer (bound by first-touch page ` +
      `faults on fresh memory when a large line holds a hit); text = redactText(string). Best of a warm-up and 20 runs ` +
      `(1 MiB) or 2 runs (64 MiB). ` +
      `Naive: best of 3 (1 MiB, ≤100 secrets) or one run; "~" = extrapolated from the 1 MiB rate. ` +
      `Total ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  );
}

main();
