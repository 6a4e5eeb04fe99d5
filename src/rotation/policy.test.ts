import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultMetadata, type SecretRecord } from "../core/types.js";
import type { Provider } from "../providers/types.js";
import {
  evaluateDue,
  FALLBACK_GRACE_SECONDS,
  graceSeconds,
  isDue,
  manualReminder,
  rotationKind,
  supports,
} from "./policy.js";

const DAY = 86400_000;
const T0 = Date.parse("2030-01-01T00:00:00.000Z");

function secret(
  overrides: {
    ttlDays?: number;
    graceSeconds?: number;
    expiresAt?: number;
    noValue?: boolean;
  } = {},
): SecretRecord {
  const metadata = defaultMetadata();
  metadata.rotation = { ttlSeconds: (overrides.ttlDays ?? 90) * 86400 };
  if (overrides.graceSeconds !== undefined) metadata.rotation.graceSeconds = overrides.graceSeconds;
  if (overrides.expiresAt !== undefined) {
    metadata.expiresAt = new Date(overrides.expiresAt).toISOString();
  }
  const at = new Date(T0).toISOString();
  return {
    name: "svc/key",
    revision: 1,
    metadata,
    versions: overrides.noValue
      ? []
      : [{ version: 1, stages: ["current"], state: "enabled", createdAt: at }],
    createdAt: at,
    updatedAt: at,
    ...(overrides.noValue ? {} : { rotatedAt: at }),
  };
}

const at = (ms: number) => new Date(ms);

describe("evaluateDue", () => {
  it("follows the TTL: not due, due, then overdue a day later", () => {
    const s = secret({ ttlDays: 90 });
    assert.deepEqual(evaluateDue(s, at(T0 + 89 * DAY)), {
      secret: "svc/key",
      status: "not-due",
      dueAt: new Date(T0 + 90 * DAY).toISOString(),
      reason: "ttl",
    });
    assert.equal(evaluateDue(s, at(T0 + 90 * DAY)).status, "due");
    assert.equal(evaluateDue(s, at(T0 + 91 * DAY - 1)).status, "due");
    assert.equal(evaluateDue(s, at(T0 + 91 * DAY)).status, "overdue");
  });

  it("a short TTL is overdue after one TTL, not a day", () => {
    const s = secret();
    s.metadata.rotation.ttlSeconds = 3600;
    assert.equal(evaluateDue(s, at(T0 + 3600_000)).status, "due");
    assert.equal(evaluateDue(s, at(T0 + 7200_000)).status, "overdue");
  });

  it("an upstream expiry brings the due date forward: a fifth of the lifetime, at most 14 days", () => {
    const year = secret({ ttlDays: 3650, expiresAt: T0 + 365 * DAY });
    const yearly = evaluateDue(year, at(T0));
    assert.equal(yearly.dueAt, new Date(T0 + (365 - 14) * DAY).toISOString());
    assert.equal(yearly.reason, "expiry");
    const twelveHours = secret({ expiresAt: T0 + 12 * 3600_000 });
    assert.equal(
      evaluateDue(twelveHours, at(T0)).dueAt,
      new Date(T0 + 0.8 * 12 * 3600_000).toISOString(),
    );
    assert.equal(evaluateDue(twelveHours, at(T0 + 12 * 3600_000)).status, "expired");
  });

  it("an expiry after the TTL changes nothing", () => {
    const e = evaluateDue(secret({ ttlDays: 30, expiresAt: T0 + 365 * DAY }), at(T0));
    assert.equal(e.reason, "ttl");
    assert.equal(e.dueAt, new Date(T0 + 30 * DAY).toISOString());
  });

  it("a secret without a current value has nothing to rotate", () => {
    const e = evaluateDue(secret({ noValue: true }), at(T0 + 1000 * DAY));
    assert.equal(e.status, "no-value");
    assert.equal(isDue(e), false);
  });

  it("isDue is true for due, overdue and expired", () => {
    for (const [status, due] of [
      ["not-due", false],
      ["due", true],
      ["overdue", true],
      ["expired", true],
      ["no-value", false],
    ] as const) {
      assert.equal(isDue({ secret: "s", status }), due, status);
    }
  });
});

describe("graceSeconds", () => {
  it("the call's override, then the secret's policy, then one hour", () => {
    assert.equal(graceSeconds(secret({ graceSeconds: 300 }), 0), 0);
    assert.equal(graceSeconds(secret({ graceSeconds: 300 })), 300);
    assert.equal(graceSeconds(secret()), FALLBACK_GRACE_SECONDS);
    assert.equal(FALLBACK_GRACE_SECONDS, 3600);
  });
});

function provider(parts: Partial<Provider> & { rotateLevel?: "yes" | "no" }): Provider {
  const { rotateLevel = "yes", ...rest } = parts;
  return {
    info: {
      id: "p",
      title: "P",
      capabilities: { app: { rotate: { level: "yes" } }, pat: { rotate: { level: rotateLevel } } },
    },
    identify: (value) =>
      value.startsWith("pat-")
        ? { kind: "pat" }
        : value.startsWith("app-")
          ? { kind: "app" }
          : undefined,
    ...rest,
  };
}

describe("rotationKind", () => {
  const rotate: Provider["rotate"] = async () => ({ value: "x" });
  const generate = () => "generated";

  it("api when the provider rotates this kind of key", () => {
    assert.equal(rotationKind(provider({ rotate }), undefined, "app-1"), "api");
    assert.equal(rotationKind(provider({ rotate }), undefined, "unrecognised"), "api");
  });

  it("manual when the provider says this kind cannot be rotated, even with rotate()", () => {
    assert.equal(
      rotationKind(provider({ rotate, rotateLevel: "no" }), generate, "pat-1"),
      "manual",
    );
    assert.equal(supports(provider({ rotateLevel: "no" }), "pat-1", "rotate"), false);
  });

  it("generated only when the caller supplies a generator and no provider rotates", () => {
    assert.equal(rotationKind(undefined, generate, "v"), "generated");
    assert.equal(rotationKind(provider({}), generate, "v"), "generated");
    assert.equal(rotationKind(undefined, undefined, "v"), "manual");
    assert.equal(rotationKind(provider({}), undefined, "v"), "manual");
  });
});

describe("manualReminder", () => {
  it("gives the provider's steps with the secret's name filled in", () => {
    const p = provider({});
    p.info.manualRotation = [
      "Create a token.",
      "Run keyward secret set <name>.",
      "Revoke the old one.",
    ];
    const s = secret({ ttlDays: 30 });
    const reminder = manualReminder(s, p, evaluateDue(s, at(T0 + 30.5 * DAY)));
    assert.deepEqual(reminder, {
      kind: "manual",
      secret: "svc/key",
      provider: "p",
      steps: ["Create a token.", "Run keyward secret set svc/key.", "Revoke the old one."],
      dueAt: new Date(T0 + 30 * DAY).toISOString(),
      status: "due",
    });
  });

  it("gives generic steps when there is no provider or it has none", () => {
    const s = secret();
    const reminder = manualReminder(s, undefined, evaluateDue(s, at(T0)));
    assert.ok(reminder.steps.some((step) => step.includes("keyward secret set svc/key")));
    assert.equal(reminder.provider, undefined);
  });
});
