import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { BASE62 } from "../detect/checksum.js";
import { tokenRules, withClassicChecksum } from "../detect/index.js";
import { secretsAnalyzer } from "./analyzers/secrets.js";
import { audit } from "./audit.js";
import { standInText } from "./stand-in.js";
import type { Analyzer } from "./types.js";
import { readSourceSync } from "./walk.js";

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** Pieces of UTF-8 a text is made of: every length of sequence, white space, invalid bytes. */
const PIECES: Buffer[] = [
  ..."aZ9_-.:=/\"'` \t\r\n@#?&{}".split("").map((c) => Buffer.from(c)),
  ...["é", "ÿ", "\u00a0", "\u0085", "\u0100", "\u07ff", "\u0800", "中", "文", "\uffff"].map((c) =>
    Buffer.from(c),
  ),
  ...["\u1680", "\u2000", "\u200a", "\u202f", "\u205f", "\u3000", "\ufeff"].map((c) =>
    Buffer.from(c),
  ),
  ...["😀", "\u{10ffff}", "\u{10000}"].map((c) => Buffer.from(c)),
  // invalid: lone continuation, overlong lead, surrogate, truncated sequences, bytes no
  // sequence starts with
  ...[[0x80], [0xc0, 0xaf], [0xc2], [0xe0, 0x80], [0xed, 0xa0, 0x80], [0xe4, 0xb8]].map((b) =>
    Buffer.from(b),
  ),
  ...[[0xf0, 0x9f, 0x98], [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xff], [0xf0, 0x9f]].map((b) =>
    Buffer.from(b),
  ),
];

function randomText(pieces: number): Buffer {
  return Buffer.concat(Array.from(randomBytes(pieces), (b) => PIECES[b % PIECES.length] as Buffer));
}

describe("stand-in text", () => {
  test("has the decoded text's length, and each character of the same kind", () => {
    for (let round = 0; round < 500; round++) {
      const bytes = randomText(1 + (round % 60));
      const decoded = bytes.toString("utf8");
      // at every alignment: the scan goes four bytes at a time from the first aligned byte
      const copy = Buffer.alloc(bytes.length + 3).subarray(round % 4, (round % 4) + bytes.length);
      bytes.copy(copy);
      const { text: standIn, standsIn } = standInText(copy);
      assert.equal(standIn.length, decoded.length, `length of ${bytes.toString("hex")}`);
      // itself, and said to be, when every character is below U+0100
      assert.equal(standsIn, standIn !== decoded);
      for (let i = 0; i < decoded.length; i++) {
        const real = decoded.charCodeAt(i);
        const stand = standIn.charCodeAt(i);
        if (real <= 0xff) assert.equal(stand, real, `${bytes.toString("hex")} at ${i}`);
        else {
          assert.ok(stand >= 0x80 && stand <= 0xff, `one byte at ${i}`);
          assert.equal(/\s/.test(String.fromCharCode(stand)), /\s/.test(decoded[i] as string));
        }
      }
    }
  });

  test("every token rule finds the same spans in the stand-in as in the text", () => {
    const samples = tokenRules.flatMap((rule) => [...rule.truePositives, ...rule.falsePositives]);
    assert.ok(samples.length > 20, "the rules carry examples");
    for (const [at, sample] of samples.entries()) {
      // the sample between, inside and beside characters the stand-in only stands for
      const bytes = Buffer.concat([
        randomText(8),
        Buffer.from(sample),
        Buffer.from(at % 2 === 0 ? "中" : "\u3000"),
        randomText(8),
      ]);
      const decoded = bytes.toString("utf8");
      const standIn = standInText(Buffer.from(bytes)).text;
      for (const rule of tokenRules) {
        const flags = rule.pattern.flags.includes("g")
          ? rule.pattern.flags
          : `${rule.pattern.flags}g`;
        const spans = (text: string) =>
          [...text.matchAll(new RegExp(rule.pattern.source, flags))].map((m) => [
            m.index,
            m[0].length,
          ]);
        assert.deepEqual(
          spans(standIn),
          spans(decoded),
          `${rule.id} on ${JSON.stringify(decoded)}`,
        );
      }
    }
  });
});

describe("file pass on a stand-in text", () => {
  function tree(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), "keyward-stand-in-"));
    temps.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }

  /** The secrets analyzer's findings on the file's text itself. */
  function onText(root: string, path: string) {
    const read = readSourceSync(root, path);
    assert.equal(read.kind, "file");
    return read.kind === "file" ? secretsAnalyzer.analyze(read.file) : [];
  }

  test("reads the file as a stand-in when its characters play no part", () => {
    const body = Array.from(randomBytes(30), (b) => BASE62[b % 62]).join("");
    const token = withClassicChecksum(`${"gh"}p_`, body);
    const root = tree({
      "src/client.ts": `// 説明: クライアント\nexport const token = "${token}";\n`,
    });
    const read = readSourceSync(root, "src/client.ts", undefined, true);
    assert.ok(read.kind === "file" && read.file.standIn === true);
    return audit({ root, workers: 1 }).then((report) => {
      const [finding] = report.findings.filter((f) => f.ruleId === "secret/github-pat");
      assert.deepEqual(finding, onText(root, "src/client.ts")[0]);
    });
  });

  test("an analyzer that does not say it reads a stand-in is handed the text itself", async () => {
    const text = "// 説明: クライアント\nexport const region = 'ap-northeast-1';\n";
    const root = tree({ "src/client.ts": text });
    const seen = (readsStandIn: boolean) => {
      const handed: Array<{ text: string; standIn?: boolean }> = [];
      const analyzer: Analyzer = {
        id: "custom",
        applies: () => true,
        keywords: ["region"],
        ...(readsStandIn ? { readsStandIn } : {}),
        analyze: (file) => {
          handed.push({ text: file.text, ...(file.standIn ? { standIn: true } : {}) });
          return [];
        },
      };
      return audit({ root, analyzers: [analyzer] }).then(() => handed);
    };
    assert.deepEqual(await seen(false), [{ text }]);
    const [standIn] = await seen(true);
    assert.equal(standIn?.standIn, true);
    assert.equal(standIn?.text.length, text.length);
    assert.notEqual(standIn?.text, text);
  });

  test("a finding on a line with such characters comes from the text itself", async () => {
    const root = tree({ "config.rb": `# 設定\npassword = "Пароль-7xQ!z9Wv"\n` });
    const report = await audit({ root, workers: 1 });
    const exact = onText(root, "config.rb");
    assert.equal(exact.length, 1);
    assert.deepEqual(report.findings, exact);
    assert.match(exact[0]?.masked ?? "", /П/);
  });

  test("an import named with such characters is followed to its file", async () => {
    const root = tree({
      "src/設定.js": "export const apiToken = process.env.API_TOKEN;\n",
      "src/client.js": 'import { apiToken } from "./設定.js";\nconsole.log(apiToken);\n',
    });
    const report = await audit({ root, workers: 1 });
    assert.deepEqual(
      report.findings.map((f) => [f.kind, f.location.path, f.location.line]),
      [["flow", "src/client.js", 2]],
    );
  });

  test("a value judged on characters the stand-in merges is judged again on the text", async () => {
    // U+4E00 and U+4E7F stand in as the same Latin-1 character: in the stand-in the value ends in
    // a run of one character (filler), in the text it alternates two.
    const value = `Zx9#${"\u4e00\u4e7f".repeat(5)}`;
    assert.equal(
      standInText(Buffer.from(value)).text.slice(4),
      standInText(Buffer.from("\u4e00")).text.repeat(10),
    );
    const root = tree({ "settings.rb": `db_password = "${value}"\n` });
    const report = await audit({ root, workers: 1 });
    assert.deepEqual(
      report.findings.map((f) => [f.ruleId, f.location.line]),
      [["secret/generic-password", 1]],
    );
    assert.deepEqual(report.findings, onText(root, "settings.rb"));
  });
});
