/**
 * The one test suite every ClientAdapter runs (like the SecretStore conformance suite): its
 * documented locations per platform, its placeholder syntaxes, and its fixtures from
 * fixtures/<client>/ read and rewritten through the shared entry reader and editor, with
 * everything outside the rewritten entry left as it was.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isKeywardError } from "../../core/errors.js";
import { withClassicChecksum } from "../../detect/checksum.js";
import { exampleChars } from "../../detect/rules/examples.js";
import { parseClientFile } from "./entries.js";
import { fillMarkers, fixtureCases, fixtureValues } from "./fixtures.js";
import { rewriteEntry } from "./rewrite.js";
import type { ClientAdapter, ClientConfigFile, LocateContext } from "./types.js";

export interface AdapterExpectations {
  /** the documented files per platform, as `home:<path>` / `cwd:<path>`, in order */
  paths: Partial<Record<NodeJS.Platform, string[]>>;
}

const HOME = join("/", "h", "ada");
const CWD = join("/", "w", "project");

function context(platform: NodeJS.Platform, env: LocateContext["env"] = {}): LocateContext {
  return { home: HOME, cwd: CWD, platform, env };
}

function spec(path: string): string {
  if (path.startsWith(`${CWD}/`)) return `cwd:${path.slice(CWD.length + 1)}`;
  if (path.startsWith(`${HOME}/`)) return `home:${path.slice(HOME.length + 1)}`;
  return path;
}

function fileAt(
  adapter: ClientAdapter,
  where: string,
  platform: NodeJS.Platform,
): ClientConfigFile {
  const files = adapter.configFiles(context(platform));
  const file = files.find((f) => spec(f.path) === where);
  assert.ok(file !== undefined, `${where} is not a documented ${adapter.displayName} location`);
  return file;
}

/** The document without the given entries, for comparing everything else. */
function withoutEntries(doc: unknown, paths: readonly (readonly string[])[]): unknown {
  const copy = structuredClone(doc) as Record<string, unknown>;
  for (const path of paths) {
    let node: Record<string, unknown> | undefined = copy;
    for (const key of path.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
    if (node !== undefined) delete node[path.at(-1) ?? ""];
  }
  return copy;
}

export function runClientAdapterConformance(
  adapter: ClientAdapter,
  expectations: AdapterExpectations,
): void {
  describe(`ClientAdapter conformance: ${adapter.id}`, () => {
    for (const [platform, expected] of Object.entries(expectations.paths)) {
      it(`lists the documented files on ${platform}, user files first`, () => {
        const files = adapter.configFiles(context(platform as NodeJS.Platform));
        assert.deepEqual(
          files.map((f) => spec(f.path)),
          expected,
        );
        const scopes = files.map((f) => f.scope);
        assert.deepEqual(
          scopes,
          [...scopes].sort((a, b) => (a === b ? 0 : a === "user" ? -1 : 1)),
        );
        for (const f of files) {
          assert.ok(f.description.length > 0);
          assert.equal(f.scope === "project", f.path.startsWith(CWD), f.path);
        }
      });
    }

    it("moves with APPDATA and XDG_CONFIG_HOME where the client follows them, never elsewhere", () => {
      for (const platform of ["linux", "darwin", "win32"] as const) {
        const env = { APPDATA: join("/", "appdata"), XDG_CONFIG_HOME: join("/", "xdg") };
        for (const f of adapter.configFiles(context(platform, env))) {
          assert.ok(
            [HOME, CWD, env.APPDATA, env.XDG_CONFIG_HOME].some((root) =>
              f.path.startsWith(`${root}/`),
            ),
            f.path,
          );
        }
      }
    });

    it("recognises its placeholder syntaxes and not a literal token", () => {
      assert.ok(adapter.placeholderExamples.length > 0);
      for (const example of adapter.placeholderExamples) {
        assert.ok(adapter.isPlaceholder(example), example);
      }
      const token = withClassicChecksum(`${"gh"}p_`, exampleChars("conformance", 30));
      assert.ok(!adapter.isPlaceholder(token));
      assert.ok(!adapter.isPlaceholder(`Bearer ${token}`));
    });

    it("finds no servers in a file without its root key", () => {
      const file = adapter.configFiles(context("linux"))[0]!;
      assert.deepEqual(parseClientFile(adapter, file, '{ "other": {} }').entries, []);
    });

    it("refuses a file that is not JSON without quoting it", () => {
      const file = adapter.configFiles(context("linux"))[0]!;
      const secret = exampleChars("conformance/broken", 24);
      assert.throws(
        () => parseClientFile(adapter, file, `{ "mcpServers": { "x": "${secret}" `),
        (e: unknown) =>
          isKeywardError(e) &&
          e.code === "config_invalid" &&
          !e.message.includes(secret) &&
          e.message.includes(file.path),
      );
    });

    const cases = fixtureCases().filter((c) => c.client === adapter.id);
    it("has at least one fixture shaped as the client writes its file", () => {
      assert.ok(cases.length > 0);
    });

    for (const c of cases) {
      it(`reads fixture ${c.name}: every server, stdio or remote`, () => {
        const file = fileAt(adapter, c.file, c.platform);
        const text = fillMarkers(c.input, fixtureValues(c));
        const parsed = parseClientFile(adapter, file, text);
        const counts: Record<string, number> = {};
        for (const entry of parsed.entries) counts[entry.name] = (counts[entry.name] ?? 0) + 1;
        const expected = Object.fromEntries(
          Object.entries(c.servers).map(([name, a]) => [name, Array.isArray(a) ? a.length : 1]),
        );
        assert.deepEqual(counts, expected);
        for (const entry of parsed.entries) {
          assert.notEqual(entry.transport, "unknown", entry.name);
          if (entry.transport === "remote") {
            assert.ok(adapter.remoteUrlKeys.includes(entry.urlKey ?? ""));
          }
        }
      });

      it(`rewrites each entry of fixture ${c.name} and touches nothing else`, () => {
        const file = fileAt(adapter, c.file, c.platform);
        const text = fillMarkers(c.input, fixtureValues(c));
        const before = parseClientFile(adapter, file, text);
        let out = text;
        for (const entry of before.entries) {
          const change = {
            command: "keyward",
            args: ["run", `p-${entry.name}`],
            removeEnv: Object.keys(entry.env),
            ...(entry.urlKey === undefined ? {} : { urlKey: entry.urlKey }),
          };
          out = rewriteEntry(out, entry.path, change);
        }
        const after = parseClientFile(adapter, file, out);
        assert.equal(after.entries.length, before.entries.length);
        for (const [i, entry] of after.entries.entries()) {
          const old = before.entries[i]!;
          assert.equal(entry.transport, "stdio");
          assert.equal(entry.command, "keyward");
          assert.deepEqual(entry.args, ["run", `p-${old.name}`]);
          assert.deepEqual(entry.env, {});
          assert.equal(entry.value.url ?? entry.value.serverUrl ?? entry.value.headers, undefined);
          // Keys the rewrite does not own keep their values and order.
          const kept = (v: Record<string, unknown>) =>
            Object.entries(v).filter(
              ([k]) => !["command", "args", "env", "type", "headers", old.urlKey].includes(k),
            );
          assert.deepEqual(kept(entry.value), kept(old.value));
          if (old.value.type !== undefined) assert.equal(entry.value.type, "stdio");
        }
        const paths = before.entries.map((e) => e.path);
        assert.deepEqual(withoutEntries(after.doc, paths), withoutEntries(before.doc, paths));
        // Comments outside the entries survive.
        for (const comment of text.match(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g) ?? []) {
          const insideEntry = before.entries.some((e) =>
            text.slice(e.node.offset, e.node.offset + e.node.length).includes(comment),
          );
          if (!insideEntry) assert.ok(out.includes(comment), `lost comment ${comment}`);
        }
      });
    }
  });
}
