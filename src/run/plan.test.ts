import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ProfileConfig } from "../config/schema.js";
import type { KeywardError } from "../core/errors.js";
import {
  fillRemoteEndpoint,
  type InjectedSecret,
  templateSecretNames,
  withUrlOverride,
} from "./plan.js";

const remote = (extra: Partial<ProfileConfig> = {}): ProfileConfig => ({
  url: "https://mcp.example.com/mcp?key={{secret:demo/query}}",
  headers: { Authorization: "Bearer {{secret:demo/pat}}", "X-Team": "{{secret:demo/pat}} ops" },
  args: [],
  env: {},
  setEnv: {},
  passEnv: [],
  argumentPolicy: "redact",
  ...extra,
});

const secret = (name: string, value: string): InjectedSecret => ({
  name,
  envVar: "",
  version: 1,
  value,
});

describe("remote profiles: templates in url and headers", () => {
  it("names each secret once, url first", () => {
    assert.deepEqual(templateSecretNames(remote()), ["demo/query", "demo/pat"]);
  });

  it("fills headers as is and the url percent-encoded", () => {
    const endpoint = fillRemoteEndpoint("p", remote(), [
      secret("demo/query", "a b&c=d"),
      secret("demo/pat", "tok_123"),
    ]);
    assert.equal(endpoint.url, "https://mcp.example.com/mcp?key=a%20b%26c%3Dd");
    assert.deepEqual(endpoint.headers, {
      Authorization: "Bearer tok_123",
      "X-Team": "tok_123 ops",
    });
  });

  it("refuses a value that cannot be a header value, naming the secret and not the value", () => {
    const value = "line1\nline2-secret-value";
    assert.throws(
      () =>
        fillRemoteEndpoint("p", remote(), [secret("demo/query", "q"), secret("demo/pat", value)]),
      (error: KeywardError) => {
        assert.match(error.message, /demo\/pat/);
        assert.match(error.message, /Authorization/);
        assert.ok(!error.message.includes("secret-value"));
        return true;
      },
    );
  });
});

describe("keyward run --url", () => {
  const refused = (config: ProfileConfig, url: string, why: RegExp) =>
    assert.throws(
      () => withUrlOverride("p", config, url),
      (error: KeywardError) => {
        assert.equal(error.code, "usage");
        assert.match(error.message, why);
        return true;
      },
    );

  it("replaces the url within the profile's origin and drops a command", () => {
    const local = remote({ url: undefined, headers: undefined, command: "npx" });
    const bridged = withUrlOverride("p", local, "http://localhost:8080/mcp");
    assert.equal(bridged.url, "http://localhost:8080/mcp");
    assert.equal(bridged.command, undefined);
    assert.equal(
      withUrlOverride("p", remote(), "https://mcp.example.com/v2/mcp").url,
      "https://mcp.example.com/v2/mcp",
    );
  });

  it("never moves a profile's credentials to another origin", () => {
    refused(
      remote(),
      "https://elsewhere.example/mcp",
      /sends its credentials only to https:\/\/mcp\.example\.com/,
    );
  });

  it("takes no secret templates, no plain http off localhost and no user:password", () => {
    refused(remote(), "https://mcp.example.com/mcp?k={{secret:demo/pat}}", /may not name secrets/);
    refused(remote({ url: undefined }), "http://mcp.example.com/mcp", /must use https/);
    refused(remote(), "https://u:p@mcp.example.com/mcp", /carries credentials/);
    refused(remote(), "not a url", /is not a URL/);
  });
});
