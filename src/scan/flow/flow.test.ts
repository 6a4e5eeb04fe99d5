import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { KeywordSearch } from "../../detect/index.js";
import { exampleChars } from "../../detect/rules/examples.js";
import type { Finding, SourceFile } from "../types.js";
import {
  analyzeProject,
  createFlowAnalyzers,
  createFlowTreeAnalyzers,
  FLOW_RULES,
  flowAnalyzers,
  flowSkipReason,
  loadFlowParsers,
  summarizeFlow,
} from "./index.js";
import { hasSourceText, jsEvidence } from "./js.js";
import { endsInQueryParam, hasLineLongerThan, isCredentialName } from "./model.js";

// Fixtures stay in the source tree: tsc does not copy them (and .mts/.py are not compiled), so the
// compiled test under dist/ reads them from src/.
const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = [join(here, "fixtures"), join(here, "../../../../src/scan/flow/fixtures")].find(
  (dir) => existsSync(dir),
);

interface Expected {
  positives: Array<{ file: string; line: number; rule: string }>;
  negatives: Array<{ file: string; line: number; why: string }>;
}

function filesUnder(dir: string, root = dir): SourceFile[] {
  const out: SourceFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path, root));
    else if (name !== "expected.json") {
      out.push({
        path: relative(root, path).split("\\").join("/"),
        text: readFileSync(path, "utf8"),
      });
    }
  }
  return out;
}

function describeFinding(f: Finding): string {
  return `${f.location.path}:${f.location.line} ${f.ruleId} — ${f.message}`;
}

describe("flow fixtures", () => {
  assert.ok(FIXTURES, "fixtures folder not found");
  let positives = 0;
  let negatives = 0;
  for (const language of ["ts", "py"]) {
    const languageDir = join(FIXTURES, language);
    for (const name of readdirSync(languageDir).sort()) {
      const dir = join(languageDir, name);
      const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Expected;
      positives += expected.positives.length;
      negatives += expected.negatives.length;
      it(`${language}/${name}: every positive at its line, nothing else`, async () => {
        const findings = await analyzeProject(filesUnder(dir));
        for (const want of expected.positives) {
          const hit = findings.find(
            (f) =>
              f.location.path === want.file &&
              f.location.line === want.line &&
              f.ruleId === want.rule,
          );
          assert.ok(
            hit,
            `missing ${want.rule} at ${want.file}:${want.line}; found:\n${findings.map(describeFinding).join("\n")}`,
          );
        }
        for (const ok of expected.negatives) {
          const wrong = findings.filter(
            (f) => f.location.path === ok.file && f.location.line === ok.line,
          );
          assert.deepEqual(wrong.map(describeFinding), [], `flagged a look-alike (${ok.why})`);
        }
        const unexpected = findings.filter(
          (f) =>
            !expected.positives.some(
              (p) =>
                p.file === f.location.path && p.line === f.location.line && p.rule === f.ruleId,
            ),
        );
        assert.deepEqual(unexpected.map(describeFinding), []);
      });
    }
  }

  it("has a positive and a negative for every rule in both languages", () => {
    for (const language of ["ts", "py"]) {
      const seen = new Set<string>();
      for (const name of readdirSync(join(FIXTURES ?? "", language))) {
        const expected = JSON.parse(
          readFileSync(join(FIXTURES ?? "", language, name, "expected.json"), "utf8"),
        ) as Expected;
        for (const p of expected.positives) seen.add(p.rule);
        assert.ok(expected.negatives.length > 0, `${language}/${name} has no look-alike negative`);
      }
      assert.deepEqual(
        [...seen].sort(),
        Object.keys(FLOW_RULES).sort(),
        `${language} rule coverage`,
      );
    }
    assert.ok(positives > 0 && negatives > 0);
  });
});

describe("flow findings", () => {
  const files = filesUnder(join(FIXTURES ?? "", "ts", "mcp-server"));
  let findings: Finding[] = [];
  before(async () => {
    findings = await analyzeProject(files);
  });

  it("carry a trace from source to sink, a fix and a stable fingerprint", async () => {
    assert.ok(findings.length > 0);
    for (const finding of findings) {
      assert.equal(finding.kind, "flow");
      assert.ok(finding.trace && finding.trace.length >= 2);
      assert.match(finding.trace[0]?.note ?? "", /GITHUB_PERSONAL_ACCESS_TOKEN/);
      assert.equal(finding.trace[finding.trace.length - 1]?.location.line, finding.location.line);
      assert.ok(finding.fix.length > 0 && finding.why.length > 0);
      assert.match(finding.fingerprint, /^[0-9a-f]{64}$/);
    }
    const moved = files.map((f) => ({ ...f, text: f.text.replace("\n", "\n\n// moved\n") }));
    assert.deepEqual(
      (await analyzeProject(moved)).map((f) => f.fingerprint),
      findings.map((f) => f.fingerprint),
    );
  });

  it("follows a credential through a local function parameter", () => {
    const error = findings.find((f) => f.ruleId === "flow/error-message");
    assert.ok(error);
    assert.match(error.message, /GITHUB_PERSONAL_ACCESS_TOKEN from process\.env reaches/);
  });

  it("names a token-format literal without ever printing it", async () => {
    const password = exampleChars("flow-test", 24);
    const dsn = `postgres://svc:${password}@db.internal:5432/app`;
    for (const [path, text] of [
      ["db.ts", `const url = "${dsn}";\nconsole.log("connecting to", url);\n`],
      ["db.py", `URL = "${dsn}"\nprint("connecting to", URL)\n`],
    ] as const) {
      const found = await analyzeProject([{ path, text }]);
      assert.equal(found.length, 1, path);
      assert.equal(found[0]?.ruleId, "flow/log");
      assert.match(found[0]?.message ?? "", /literal reaches/);
      assert.ok(
        !JSON.stringify(found).includes(password),
        `${path}: the value leaked into a finding`,
      );
    }
  });
});

describe("flow analyzers", () => {
  before(loadFlowParsers);
  const dir = join(FIXTURES ?? "", "ts", "imports");
  const files = filesUnder(dir);
  const server = files.find((f) => f.path === "server.mts");

  it("follow relative imports only when given a way to read other files", () => {
    assert.ok(server);
    const [js] = flowAnalyzers;
    assert.ok(js?.applies("server.mts"));
    assert.deepEqual(js?.analyze(server), []);
    const byPath = new Map(files.map((f) => [f.path, f.text]));
    const [linked] = createFlowAnalyzers({ readFile: (path) => byPath.get(path) });
    assert.equal(linked?.analyze(server).length, 2);
  });

  it("apply to sources only", () => {
    const [js, py] = flowAnalyzers;
    for (const path of ["a.ts", "a.tsx", "a.mjs", "a.cjs", "a.js"])
      assert.ok(js?.applies(path), path);
    for (const path of ["a.d.ts", "a.min.js", "a.json", "a.py"])
      assert.ok(!js?.applies(path), path);
    assert.ok(py?.applies("a.py") && !py.applies("a.pyc"));
  });

  it("skip minified bundles and files over 1 MiB, and survive syntax errors", async () => {
    const leak = "console.log(process.env.GITHUB_TOKEN);";
    const minified = `${leak}${"x;".repeat(3000)}`;
    assert.match(flowSkipReason(minified) ?? "", /minified/);
    assert.deepEqual(flowAnalyzers[0]?.analyze({ path: "bundle.js", text: minified }), []);
    const huge = `${leak}\n${"// padding\n".repeat(110_000)}`;
    assert.match(flowSkipReason(huge) ?? "", /1 MiB/);
    assert.equal(flowSkipReason(leak), undefined);
    await assert.doesNotReject(() =>
      analyzeProject([{ path: "broken.ts", text: "const = ;\nfunction (" }]),
    );
    await assert.doesNotReject(() =>
      analyzeProject([{ path: "broken.py", text: "def (:\n  print(" }]),
    );
  });

  it("summarise a file from the engine's keyword hits as from its text alone", () => {
    const [js] = createFlowTreeAnalyzers();
    const search = new KeywordSearch(js?.keywords ?? []);
    for (const text of [
      "var m = __webpack_require__(1);\nconsole.log(process.env.GITHUB_TOKEN);",
      "var m = __WEBPACK_REQUIRE__(1);\nconsole.log(process.env.GITHUB_TOKEN);",
      'import { a } from "./a";\nconst key = process.env.API_KEY;',
      'import { a } from "./a";\nSystem.register;',
    ]) {
      const file = { path: "src/x.js", text };
      assert.deepEqual(js?.summarize(file, search.hits(text)), js?.summarize(file), text);
    }
  });

  it("find a line over the limit wherever it lies, without reading every line", () => {
    const longest = (text: string) => Math.max(...text.split("\n").map((line) => line.length));
    const line = (length: number) => "x".repeat(length);
    for (const lines of [
      [line(10)],
      [line(11)],
      [line(10), line(10), line(10)],
      [line(3), line(11), line(3)],
      [line(9), line(2), line(11)],
      ["", line(10), "", line(10), ""],
      [line(4), "", line(20)],
      [line(19), line(1), line(10)],
    ]) {
      const text = lines.join("\n");
      assert.equal(hasLineLongerThan(text, 10), longest(text) > 10, JSON.stringify(lines));
    }
  });

  it("skip bundled build output by what bundlers write, and report why", () => {
    const leak = "console.log(process.env.GITHUB_TOKEN);\n";
    const esbuild = `// src/index.ts\n${leak}// src/cli.ts\nrun();\n// node_modules/x/index.js\nx();\n`;
    const webpack = `var __webpack_require__ = {};\n${leak}`;
    for (const [path, text] of [
      ["build/index.js", esbuild],
      ["dist/main.js", webpack],
      ["build/chunk-LBQDT5VV.js", leak],
      ["dist/src-BhnGYybN.cjs", leak],
      ["static/js/main.3f2a1b9c.js", leak],
    ] as const) {
      assert.match(flowSkipReason(text, path) ?? "", /bundled build output/, path);
      const [js] = createFlowAnalyzers();
      assert.match(js?.skipReason?.({ path, text }) ?? "", /bundled/, path);
    }
    // Compiled per-module output, a single module comment, ordinary names: analysed.
    for (const [path, text] of [
      ["dist/index.js", `"use strict";\n${leak}//# sourceMappingURL=index.js.map\n`],
      ["src/index.ts", `// src/index.ts is the entry point\n${leak}`],
      ["src/use-callback.js", leak],
      ["lib/api-handler.js", leak],
    ] as const) {
      assert.equal(flowSkipReason(text, path), undefined, path);
      assert.equal(flowAnalyzers[0]?.analyze({ path, text }).length, 1, path);
    }
  });

  it("parse a file only when its text shows a source the walker knows", () => {
    // Names decide only which fields of process.env are credentials, so reads of other names,
    // a file read that is not parsed as configuration, or authInfo without its token are none.
    for (const text of [
      "const mode = process.env.NODE_ENV;\nconsole.log(mode);",
      'if (process.env["DEBUG"]) console.error(process.env.LOG_LEVEL);',
      'const body = JSON.parse(input);\nconst raw = readFileSync("notes.txt", "utf8");',
      "const info = extra.authInfo;\nsend(info.scopes);",
      'const hasEnv = typeof process.env === "object";',
      "const warn = process.env?.LRU_CACHE_IGNORE_AC_WARNING !== '1';",
      "if (typeof(process.env.GITHUB_TOKEN) !== 'string') throw new Error('unset');",
    ])
      assert.equal(hasSourceText(text), false, text);
    for (const text of [
      "const { GITHUB_TOKEN } = process.env;",
      'spawn("server", [], { env: process.env });',
      "const env = process.env;\nconsole.log(env.API_KEY);",
      "const value = process.env[name];",
      'const env = typeof process.env === "object" ? process.env : {};',
      "const token = process.env?.GITHUB_TOKEN;",
      "const key = process.env.OPENAI_API_KEY;",
      'const key = process["env"]["GITHUB_TOKEN"];',
      'const config = JSON.parse(readFileSync("config.json", "utf8"));',
      "const config = yaml.load(\n  await fs.readFile(path, 'utf8'),\n);",
      "const token = extra.authInfo?.token;",
      "send(authInfo!.token);",
      'send(extra.authInfo["token"]);',
    ])
      assert.equal(hasSourceText(text), true, text);
    // An alias of the whole environment is still followed to the field read through it.
    const alias = "const env = process.env;\nconsole.log(env.GITHUB_TOKEN);\n";
    assert.deepEqual(
      flowAnalyzers[0]?.analyze({ path: "alias.ts", text: alias }).map((f) => f.ruleId),
      ["flow/log"],
    );
    const optional = "const token = process.env?.GITHUB_TOKEN;\nconsole.log(token);\n";
    assert.deepEqual(
      flowAnalyzers[0]?.analyze({ path: "optional.ts", text: optional }).map((f) => f.ruleId),
      ["flow/log"],
    );
    const other = "const level = process.env.LOG_LEVEL;\nconsole.log(level);\n";
    assert.deepEqual(flowAnalyzers[0]?.analyze({ path: "level.ts", text: other }), []);
  });

  it("take an imported JSON file for data: no source, nothing to parse", () => {
    // "vault" and a config reader's name would be evidence in a module.
    const json = '{ "vault": { "loadConfig": "from \'./x\'" } }\n';
    const [js] = createFlowTreeAnalyzers();
    assert.deepEqual(js?.summarize({ path: "config.json", text: json }), {
      evidence: false,
      imports: [],
    });
    assert.deepEqual(js?.summarize({ path: "config.js", text: json }), { evidence: true });
  });

  it("list a file's relative imports when its text shows no source", () => {
    const text = [
      'import { a } from "./from";',
      'import type { B } from "../b.js";',
      'const c = require("./c"), d = require("lodash");',
      'const e = await import("./e.mjs");',
      'export * from"./f";',
      'const g = "from ./g";',
    ].join("\n");
    assert.deepEqual(jsEvidence(text), {
      evidence: false,
      imports: ["./from", "../b.js", "./c", "./e.mjs", "./f"],
    });
  });

  it("keep neither a file's text in its summary nor a module's AST in its exports", () => {
    // This test file's process only: V8 then hands out its collector, so that what the heap
    // still holds after a collection is what something keeps alive.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const heapAfterCollection = (): number => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const MB = 1024 * 1024;

    // 30 files of 200 KB, each summarised with an import: 6 MB of text if a specifier kept it.
    const before = heapAfterCollection();
    const summaries = Array.from({ length: 30 }, (_, i) =>
      summarizeFlow(
        `f${i}.js`,
        `import { a } from "./a-module-with-a-longer-name-${i}.js";\n${"// filler\n".repeat(20_000)}`,
        "js",
      ),
    );
    const kept = heapAfterCollection() - before;
    assert.equal(summaries.length, 30);
    assert.deepEqual(summaries[7], {
      evidence: false,
      imports: ["./a-module-with-a-longer-name-7.js"],
    });
    assert.ok(kept < 2 * MB, `summaries keep ${(kept / MB).toFixed(1)} MB alive`);

    // A parsed module exporting a class whose method has 10,000 statements: its AST holds about
    // 6 MB, the text 0.3 MB. Importers read exported functions' parameters only.
    const body = Array.from({ length: 10_000 }, (_, i) => `let v${i} = ${i} + ${i};`).join("\n");
    const text = `const token = process.env.API_TOKEN;\nexport class Client {\n run(a) {\n${body}\n }\n}\n`;
    const [js] = createFlowAnalyzers();
    const beforeModule = heapAfterCollection();
    assert.deepEqual(js?.analyze({ path: "client.js", text }), []);
    const keptByModule = heapAfterCollection() - beforeModule;
    assert.ok(
      keptByModule < 2 * MB,
      `a module's exports keep ${(keptByModule / MB).toFixed(1)} MB`,
    );

    // The same in Python, whose syntax trees are copied out of tree-sitter's.
    const pyBody = Array.from({ length: 10_000 }, (_, i) => `        v${i} = ${i} + ${i}`).join(
      "\n",
    );
    const pyText = `import os\ntoken = os.environ["API_TOKEN"]\nclass Client:\n    def run(self, a):\n${pyBody}\n`;
    const [, py] = createFlowAnalyzers();
    const beforePython = heapAfterCollection();
    assert.deepEqual(py?.analyze({ path: "client.py", text: pyText }), []);
    const keptByPython = heapAfterCollection() - beforePython;
    assert.ok(
      keptByPython < 2 * MB,
      `a Python module's exports keep ${(keptByPython / MB).toFixed(1)} MB`,
    );
  });

  it("follow a TypeScript parameter property (parsed with type information)", () => {
    const text = [
      "class Client {",
      "  constructor(private readonly token: string) {}",
      "  show() { console.log(this.token); }",
      "}",
      'new Client(process.env.GITHUB_TOKEN ?? "").show();',
    ].join("\n");
    const findings = flowAnalyzers[0]?.analyze({ path: "client.ts", text }) ?? [];
    assert.deepEqual(
      findings.map((f) => [f.ruleId, f.location.line]),
      [["flow/log", 3]],
    );
  });

  // Function bodies run after the code around them, so each of these values is read before it
  // is known: the analysis must walk the file again until nothing read has changed since.
  it("find what a value carries when it arrives after it was read", () => {
    const cases: Array<[name: string, lines: string[], rule: string, line: number]> = [
      [
        "a return read before the function ran",
        [
          "const client = makeClient();",
          "console.log(client.token);",
          "function makeClient() { return { token: process.env.GITHUB_TOKEN }; }",
        ],
        "flow/log",
        2,
      ],
      [
        "an argument passed after the function ran",
        [
          "function show(value) { console.log(value); }",
          "function main() { show(process.env.GITHUB_TOKEN); }",
          "main();",
        ],
        "flow/log",
        1,
      ],
      [
        "a class field set after a method read it",
        [
          "class Client {",
          "  show() { console.log(this.token); }",
          "  constructor() { this.token = process.env.GITHUB_TOKEN; }",
          "}",
        ],
        "flow/log",
        2,
      ],
      [
        "a tool handler registered after it ran",
        [
          "function handler() {",
          '  return { content: [{ type: "text", text: process.env.GITHUB_TOKEN }] };',
          "}",
          'function register(server) { server.tool("leak", handler); }',
          "register(server);",
        ],
        "flow/tool-result",
        2,
      ],
    ];
    for (const [name, lines, rule, line] of cases) {
      const findings = createFlowAnalyzers()[0]?.analyze({
        path: "late.js",
        text: lines.join("\n"),
      });
      assert.deepEqual(
        findings?.map((f) => [f.ruleId, f.location.line]),
        [[rule, line]],
        name,
      );
    }
  });
});

describe("credential names", () => {
  it("pick credentials, not descriptions of them", () => {
    for (const name of [
      "GITHUB_TOKEN",
      "OPENAI_API_KEY",
      "apiKey",
      "x-api-key",
      "client_secret",
      "DATABASE_URL",
      "STRIPE_KEY",
      "password",
      "basicAuth",
      "AWS_SECRET_ACCESS_KEY",
    ]) {
      assert.ok(isCredentialName(name), name);
    }
    for (const name of [
      "secretName",
      "SECRET_NAME",
      "PORT",
      "MAX_TOKENS",
      "AWS_ACCESS_KEY_ID",
      "TOKEN_FILE",
      "tokenType",
      "key",
      "PWD",
      "NODE_ENV",
      "is_secret",
      "csrfToken",
      "waitForAuth",
    ]) {
      assert.ok(!isCredentialName(name), name);
    }
  });

  it("recognise a URL query parameter before an interpolation", () => {
    assert.ok(endsInQueryParam("https://x.test/a?api_key="));
    assert.ok(endsInQueryParam("https://x.test/a?q=\u0000&token="));
    assert.ok(!endsInQueryParam("grant_type=client_credentials&client_secret="));
    assert.ok(!endsInQueryParam("https://x.test/a?q=1 Authorization: Bearer "));
  });
});
