import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  commandName,
  flag,
  hasImageArg,
  hasPackageArg,
  header,
  parseList,
  providesVariable,
  restriction,
  setting,
  truthy,
} from "./catalog.js";

describe("reading a profile", () => {
  it("commandName strips directories and Windows extensions", () => {
    assert.equal(commandName({ command: "/usr/bin/npx" }), "npx");
    assert.equal(commandName({ command: "C:\\tools\\UVX.EXE" }), "uvx");
    assert.equal(commandName({}), "");
  });

  it("hasPackageArg matches bare and versioned package names only", () => {
    const p = (arg: string) => ({ args: ["-y", arg] });
    assert.equal(hasPackageArg(p("@scope/pkg"), ["@scope/pkg"]), true);
    assert.equal(hasPackageArg(p("@scope/pkg@1.2.3"), ["@scope/pkg"]), true);
    assert.equal(hasPackageArg(p("pkg==0.11"), ["pkg"]), true);
    assert.equal(hasPackageArg(p("@scope/pkg-extra"), ["@scope/pkg"]), false);
  });

  it("hasImageArg accepts registry prefixes, tags and digests", () => {
    const p = (arg: string) => ({ args: ["run", arg] });
    assert.equal(hasImageArg(p("mcp/github"), "mcp/github"), true);
    assert.equal(hasImageArg(p("docker.io/mcp/github:latest"), "mcp/github"), true);
    assert.equal(hasImageArg(p("mcp/github@sha256:abc"), "mcp/github"), true);
    assert.equal(hasImageArg(p("mcp/github-extra"), "mcp/github"), false);
  });

  it("setting reads container -e/--env assignments before setEnv", () => {
    const profile = {
      args: ["run", "--env=A=1", "-e", "B=2", "-e=C=3", "-e", "D"],
      setEnv: { A: "setEnv", D: "4" },
    };
    assert.equal(setting(profile, "A"), "1");
    assert.equal(setting(profile, "B"), "2");
    assert.equal(setting(profile, "C"), "3");
    assert.equal(setting(profile, "D"), "4");
    assert.equal(setting(profile, "E"), undefined);
  });

  it("flag reads --name=value, --name value and boolean flags", () => {
    const profile = { args: ["--toolsets", "repos", "--tools=a,b", "--read-only", "--x=false"] };
    assert.equal(flag(profile, "--toolsets"), "repos");
    assert.equal(flag(profile, "--tools"), "a,b");
    assert.equal(flag(profile, "--read-only", true), "true");
    assert.equal(truthy(flag(profile, "--x", true)), false);
    assert.equal(flag(profile, "--missing"), undefined);
  });

  it("header is case-insensitive", () => {
    assert.equal(header({ headers: { "X-MCP-Tools": "a" } }, "x-mcp-tools"), "a");
  });

  it("parseList and truthy", () => {
    assert.deepEqual(parseList(" a, b,,c "), ["a", "b", "c"]);
    assert.equal(parseList(undefined), undefined);
    for (const v of ["1", "true", "TRUE", "t", "yes", "on"]) assert.equal(truthy(v), true, v);
    for (const v of ["0", "false", "no", "off", ""]) assert.equal(truthy(v), false, v);
    assert.equal(truthy("maybe"), undefined);
  });

  it("providesVariable sees env, setEnv, passEnv and container assignments", () => {
    assert.equal(providesVariable({ env: { JIRA_URL: "x/y" } }, "JIRA_URL"), true);
    assert.equal(providesVariable({ passEnv: ["JIRA_URL"] }, "JIRA_URL"), true);
    assert.equal(providesVariable({ args: ["-e", "JIRA_URL=https://x"] }, "JIRA_URL"), true);
    assert.equal(providesVariable({ setEnv: {} }, "JIRA_URL"), false);
  });

  it("restriction drops unset fields and empty notes", () => {
    assert.deepEqual(restriction({ toolsets: undefined, readOnly: false, notes: [] }), {
      readOnly: false,
    });
  });
});
