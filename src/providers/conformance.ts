/**
 * The one test suite every provider runs (as every SecretStore backend runs
 * src/store/conformance.ts). A provider's test file starts its fake upstream on 127.0.0.1 and
 * calls runProviderConformance with sample values; the suite checks, through the Provider
 * interface only, that the provider declares its capabilities honestly, recognises its own keys
 * and no one else's, never sends a foreign or broken key upstream, retries within bounds, times
 * out clearly, and never lets a key into an error or a result.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { inspect } from "node:util";
import { isKeywardError } from "../core/errors.js";
import {
  CAPABILITIES,
  type Capability,
  type MintRequest,
  type Provider,
  type ProviderContext,
  type ProviderCredential,
  type RetryPolicy,
} from "./types.js";

/** What a provider's fake upstream offers the suite. Each provider's fake implements it. */
export interface FakeServerHandle {
  /** The fake's API base URL, on 127.0.0.1. */
  baseUrl: string;
  /** Provider settings that point the provider at this server (e.g. { apiBaseUrl }). */
  settings: Record<string, unknown>;
  /** The next `times` requests, whatever their path, answer `status` with `headers` instead of their work. */
  failNext(status: number, times: number, headers?: Record<string, string>): void;
  /** The next request is never answered, so the client has to time out. */
  hangNext(): void;
  /** Requests received so far. */
  requestCount(): number;
}

export interface ConformanceFixtures {
  /** A working key of this provider that the fake server accepts. */
  validValue: string;
  /** Companions the provider needs with it (App private key, refresh token). */
  companions?: Record<string, string>;
  /** Another provider's key, e.g. a Slack bot token given to GitHub. Generic providers (http, command), which take any value, leave it out. */
  otherProviderValue?: string;
  /** Shaped like this provider's key but broken: a failing checksum, a truncated copy. */
  malformedValue: string;
  /** Well-formed, but the server does not accept it (revoked, never issued): verify → ok false. */
  rejectedValue?: string;
  /** A working key the suite revokes (not validValue, which later cases still use). */
  revocableValue?: string;
  /** A mint the fake server grants: the credential that may mint, and what to ask for. */
  mint?: { cred: Omit<ProviderCredential, "name">; request: MintRequest };
  /** Settings for providers with no server (merged under server.settings). */
  settings?: Record<string, unknown>;
  /** The provider's fake upstream; without one the network cases are skipped. */
  server?: FakeServerHandle;
}

/** The retry policy the suite runs with: the default attempt count, no real waiting (sleep is recorded). */
export const CONFORMANCE_RETRY: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 10,
  maxDelayMs: 100,
  maxWaitMs: 60_000,
};

/** fetch that refuses anything but this machine: tests never send traffic elsewhere. */
export const localOnlyFetch: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname))
    return Promise.reject(new Error(`test fetch refused a request to ${url.host}`));
  return fetch(input, init);
};

/** A provider context for tests: local-only fetch, recorded (not real) waits. */
export function testContext(
  settings: Record<string, unknown>,
  overrides: Partial<ProviderContext> = {},
): ProviderContext & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    settings,
    fetch: localOnlyFetch,
    timeoutMs: 5_000,
    now: () => new Date(),
    retry: CONFORMANCE_RETRY,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
    sleeps,
  };
}

/** The forms a key could take in text: raw, JSON-escaped, URL-encoded, base64, base64url, hex, and a fragment of its middle. */
export function leakForms(value: string): string[] {
  const forms = [
    value,
    JSON.stringify(value).slice(1, -1),
    encodeURIComponent(value),
    Buffer.from(value).toString("base64"),
    Buffer.from(value).toString("base64url"),
    Buffer.from(value).toString("hex"),
  ];
  if (value.length >= 24) forms.push(value.slice(value.length / 2 - 6, value.length / 2 + 6));
  return forms.filter((form) => form.length >= 6);
}

/** Fails if any form of any value appears in the thing (an error with its stack, cause and fix, or a result). */
export function assertNoLeak(thing: unknown, values: readonly string[]): void {
  const texts = [inspect(thing, { depth: 8, showHidden: true })];
  if (thing instanceof Error) texts.push(String(thing), thing.stack ?? "");
  try {
    texts.push(JSON.stringify(thing) ?? "");
  } catch {
    // Circular results are covered by inspect.
  }
  for (const value of values)
    for (const form of leakForms(value))
      for (const text of texts)
        assert.ok(
          !text.includes(form),
          "a key (or an encoding of it) appears in an error or result",
        );
}

function hasMethod(provider: Provider, capability: Capability): boolean {
  switch (capability) {
    case "identify":
      return typeof provider.identify === "function";
    case "introspect-scope":
    case "introspect-expiry":
      return typeof provider.introspect === "function";
    default:
      return typeof provider[capability] === "function";
  }
}

export function runProviderConformance(
  provider: Provider,
  fixturesOrFactory: ConformanceFixtures | (() => Promise<ConformanceFixtures>),
): void {
  const info = provider.info;
  let fx: ConformanceFixtures;
  const secrets = () =>
    [fx.validValue, fx.malformedValue, fx.otherProviderValue, fx.rejectedValue, fx.revocableValue]
      .concat(Object.values(fx.companions ?? {}))
      .filter((v): v is string => typeof v === "string" && v.length > 0);
  const cred = (value: string): ProviderCredential => ({
    name: `conformance/${info.id}`,
    value,
    ...(fx.companions === undefined ? {} : { companions: fx.companions }),
  });
  const ctx = (overrides: Partial<ProviderContext> = {}) =>
    testContext({ ...fx.settings, ...fx.server?.settings }, overrides);
  /** Runs `action`, requires a KeywardError with one of `codes`, and checks it for leaks. */
  const rejectsWith = async (action: Promise<unknown>, codes: string[]) => {
    await assert.rejects(action, (e: unknown) => {
      assert.ok(isKeywardError(e), `expected a KeywardError, got ${inspect(e)}`);
      assert.ok(
        codes.includes(e.code),
        `expected ${codes.join(" or ")}, got ${e.code}: ${e.message}`,
      );
      assert.ok(
        e.message.length > 0 && (e.fix ?? "").length > 0,
        "the error says what happened and what to do",
      );
      assertNoLeak(e, secrets());
      return true;
    });
  };
  const requests = () => fx.server?.requestCount() ?? 0;
  /** Generic providers (http, command) know no key format: identify is "no" for every kind. */
  const identifies = () =>
    Object.values(info.capabilities).some((support) => (support.identify?.level ?? "no") !== "no");

  describe(`provider conformance: ${info.id}`, () => {
    before(async () => {
      fx = typeof fixturesOrFactory === "function" ? await fixturesOrFactory() : fixturesOrFactory;
    });

    it("declares its capabilities honestly", () => {
      assert.match(info.id, /^[a-z][a-z0-9-]*$/);
      assert.ok(info.title.length > 0);
      const kinds = Object.entries(info.capabilities);
      assert.ok(kinds.length > 0, "declares at least one key kind");
      const offered = new Set<Capability>();
      for (const [kind, support] of kinds) {
        for (const [capability, level] of Object.entries(support)) {
          assert.ok(
            CAPABILITIES.includes(capability as Capability),
            `${kind}: unknown capability ${capability}`,
          );
          assert.ok(
            ["yes", "partial", "no"].includes(level.level),
            `${kind}.${capability}: bad level`,
          );
          if (level.level !== "no") offered.add(capability as Capability);
        }
      }
      for (const capability of CAPABILITIES) {
        if (offered.has(capability))
          assert.ok(
            hasMethod(provider, capability),
            `claims ${capability} but has no method for it`,
          );
        else if (capability !== "identify" && !capability.startsWith("introspect"))
          assert.ok(
            !hasMethod(provider, capability),
            `has a ${capability} method but no kind claims it`,
          );
      }
      if (kinds.some(([, support]) => support.rotate?.level === "no"))
        assert.ok((info.manualRotation ?? []).length > 0, "keys it cannot rotate get manual steps");
    });

    it("identifies its own key", (t) => {
      if (!identifies()) return t.skip("declares no key format (generic provider)");
      const identity = provider.identify(fx.validValue);
      assert.ok(identity !== undefined, "does not recognise its own key");
      assert.ok(
        identity.kind in info.capabilities,
        `kind ${identity.kind} is not in the capability matrix`,
      );
      assert.notEqual(identity.formatValid, false);
    });

    it("does not claim another provider's key", (t) => {
      if (fx.otherProviderValue === undefined) return t.skip("no otherProviderValue fixture");
      assert.equal(provider.identify(fx.otherProviderValue), undefined);
    });

    it("flags a malformed key", () => {
      const identity = provider.identify(fx.malformedValue);
      assert.ok(identity === undefined || identity.formatValid === false);
    });

    it("identify never throws, whatever the input", () => {
      const junk = [
        "",
        " ",
        "\n",
        "\u0000",
        "🔑".repeat(50),
        "x".repeat(200_000),
        `${fx.validValue}\n`,
        ` ${fx.validValue}`,
      ];
      for (const value of junk) {
        const identity = provider.identify(value);
        assert.ok(identity === undefined || typeof identity.kind === "string");
      }
    });

    it("verifies its own key", { skip: !provider.verify }, async () => {
      const result = await provider.verify!(cred(fx.validValue), ctx());
      assert.equal(result.ok, true, result.detail);
      assertNoLeak(result, secrets());
    });

    it("refuses to verify another provider's key, sending nothing", {
      skip: !provider.verify,
    }, async (t) => {
      if (fx.otherProviderValue === undefined) return t.skip("no otherProviderValue fixture");
      const before = requests();
      await rejectsWith(provider.verify!(cred(fx.otherProviderValue), ctx()), ["refused"]);
      assert.equal(requests(), before, "another provider's key was sent upstream");
    });

    it("does not send a key it knows is broken", { skip: !provider.verify }, async () => {
      const before = requests();
      const attempt = provider.verify!(cred(fx.malformedValue), ctx());
      const outcome = await attempt.then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      if ("error" in outcome) {
        assert.ok(
          isKeywardError(outcome.error),
          `expected a KeywardError, got ${inspect(outcome.error)}`,
        );
        assertNoLeak(outcome.error, secrets());
      } else {
        assert.equal(outcome.result.ok, false);
        assertNoLeak(outcome.result, secrets());
      }
      if (identifies() && provider.identify(fx.malformedValue)?.formatValid !== true)
        assert.equal(requests(), before, "a key that fails the offline check was sent upstream");
    });

    it("reports a key the upstream rejects", { skip: !provider.verify }, async (t) => {
      if (fx.rejectedValue === undefined) return t.skip("no rejectedValue fixture");
      const result = await provider.verify!(cred(fx.rejectedValue), ctx());
      assert.equal(result.ok, false);
      assertNoLeak(result, secrets());
    });

    it("retries a 5xx answer and succeeds", { skip: !provider.verify }, async (t) => {
      if (fx.server === undefined) return t.skip("no fake server");
      fx.server.failNext(503, 1);
      const before = requests();
      const result = await provider.verify!(cred(fx.validValue), ctx());
      assert.equal(result.ok, true);
      assert.equal(requests() - before, 2, "one failure, one retry");
    });

    it("gives up after a bounded number of attempts", { skip: !provider.verify }, async (t) => {
      if (fx.server === undefined) return t.skip("no fake server");
      fx.server.failNext(502, CONFORMANCE_RETRY.attempts);
      const before = requests();
      const c = ctx();
      await rejectsWith(provider.verify!(cred(fx.validValue), c), ["upstream_unavailable"]);
      assert.equal(requests() - before, CONFORMANCE_RETRY.attempts);
      assert.equal(c.sleeps.length, CONFORMANCE_RETRY.attempts - 1, "backs off between attempts");
    });

    it("honours Retry-After on a rate limit", { skip: !provider.verify }, async (t) => {
      if (fx.server === undefined) return t.skip("no fake server");
      fx.server.failNext(429, 1, { "retry-after": "7" });
      const c = ctx();
      const result = await provider.verify!(cred(fx.validValue), c);
      assert.equal(result.ok, true);
      assert.equal(c.sleeps.length, 1);
      assert.ok(c.sleeps[0]! >= 7_000, "waited at least as long as asked");
    });

    it("times out on an upstream that never answers", { skip: !provider.verify }, async (t) => {
      if (fx.server === undefined) return t.skip("no fake server");
      fx.server.hangNext();
      await rejectsWith(provider.verify!(cred(fx.validValue), ctx({ timeoutMs: 200 })), [
        "upstream_timeout",
      ]);
    });

    it("reports scope and expiry in the documented shape", {
      skip: !provider.introspect,
    }, async () => {
      const report = await provider.introspect!(cred(fx.validValue), ctx());
      assert.ok(
        Array.isArray(report.granted) && report.granted.every((s) => typeof s === "string"),
      );
      assert.equal(typeof report.partial, "boolean");
      if (report.expiresAt !== undefined) assert.ok(!Number.isNaN(Date.parse(report.expiresAt)));
      assertNoLeak(report, secrets());
    });

    it("refuses to introspect another provider's key", {
      skip: !provider.introspect,
    }, async (t) => {
      if (fx.otherProviderValue === undefined) return t.skip("no otherProviderValue fixture");
      const before = requests();
      await rejectsWith(provider.introspect!(cred(fx.otherProviderValue), ctx()), ["refused"]);
      assert.equal(requests(), before);
    });

    it("mints a narrowed credential it recognises", { skip: !provider.mint }, async (t) => {
      if (fx.mint === undefined) return t.skip("no mint fixture");
      const minted = await provider.mint!(
        { name: `conformance/${info.id}`, ...fx.mint.cred },
        fx.mint.request,
        ctx(),
      );
      assert.ok(provider.identify(minted.value) !== undefined, "does not recognise what it minted");
      assert.ok(
        minted.scope.every((s) => fx.mint!.request.scope.includes(s)),
        "minted more than asked for",
      );
      if (minted.expiresAt !== undefined) assert.ok(!Number.isNaN(Date.parse(minted.expiresAt)));
      if (provider.verify)
        assert.equal((await provider.verify(cred(minted.value), ctx())).ok, true);
      const { value, ...rest } = minted;
      assertNoLeak(rest, [...secrets(), value]);
    });

    it("revokes a key, after which it no longer verifies", {
      skip: !provider.revoke,
    }, async (t) => {
      if (fx.revocableValue === undefined) return t.skip("no revocableValue fixture");
      const result = await provider.revoke!(cred(fx.revocableValue), ctx());
      assert.equal(result.revoked, true, result.detail);
      assertNoLeak(result, secrets());
      if (provider.verify)
        assert.equal((await provider.verify(cred(fx.revocableValue), ctx())).ok, false);
    });

    it("refuses to revoke another provider's key, sending nothing", {
      skip: !provider.revoke,
    }, async (t) => {
      if (fx.otherProviderValue === undefined) return t.skip("no otherProviderValue fixture");
      const before = requests();
      await rejectsWith(provider.revoke!(cred(fx.otherProviderValue), ctx()), ["refused"]);
      assert.equal(requests(), before);
    });
  });
}
