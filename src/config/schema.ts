/**
 * The keyward config file (keyward.yaml / keyward.json): its zod schema, durations, the
 * rotation defaults per sensitivity and the JSON Schema editors use.
 *
 * Every field carries a description (it becomes the editor tooltip) and, where a plain
 * "expected X" would not tell the user what to write, a fix in `configFixes` that the loader
 * shows when the field is wrong.
 */
import * as z from "zod";
import type { KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import { SENSITIVITIES } from "../core/types.js";

export const CONFIG_VERSION = 1;

/** How to fix a field whose value is wrong; looked up by the loader for the schema at an error's path. */
export const configFixes = z.registry<{ fix: string }>();

// One number and unit per part, largest unit first: 90d, 12h, 30m, 45s, 1h30m.
import { DURATION_FIX, DURATION_PATTERN, parseDuration } from "../core/duration.js";
import { BACKEND_NAMES, DEFAULT_BACKEND } from "../store/backends.js";
import { MasterKeyOptionsSchema } from "../store/master-key-options.js";
import {
  ENV_VAR_NAME_PATTERN,
  NOTIFICATION_EVENT_NAMES,
  PROFILE_NAME_PATTERN,
  SECRET_TEMPLATE_PATTERN,
} from "./constants.js";

export { DEFAULT_GRACE_SECONDS, type ResolvedSecretDecl, resolveSecretDecl } from "./decl.js";
export { DURATION_FIX, parseDuration };

/** Agent-exposed keys rotating less often than this draw a warning: the guide asks for short-lived ones. */
export const AGENT_EXPOSED_MAX_TTL_SECONDS = 86400;

const duration = (what: string) =>
  z
    .string()
    .regex(DURATION_PATTERN, { error: "is not a duration" })
    .describe(`${what} Written as 90d, 12h, 30m, 45s or a combination such as 1h30m.`)
    .register(configFixes, { fix: DURATION_FIX });

/** A secret name checked by the same rule the store uses (src/core/names.ts). */
const secretName = (description: string) =>
  z
    .string()
    .superRefine((name, ctx) => {
      try {
        parseSecretName(name);
      } catch (e) {
        const err = e as KeywardError;
        ctx.addIssue({ code: "custom", message: err.message, params: { fix: err.fix } });
      }
    })
    .describe(description);

const envVarName = z
  .string()
  .regex(ENV_VAR_NAME_PATTERN, { error: "is not a valid environment variable name" })
  .describe("An environment variable name: letters, digits and _, not starting with a digit.")
  .register(configFixes, {
    fix: "use letters, digits and _ only, not starting with a digit (for example GITHUB_TOKEN)",
  });

const nonEmpty = (description: string) =>
  z.string().min(1, { error: "must not be empty" }).describe(description);

const StoreSchema = z
  .looseObject({
    backend: z
      .string()
      .refine((name) => BACKEND_NAMES.includes(name), {
        error: `is not a store backend (${BACKEND_NAMES.join(", ")})`,
      })
      .default(DEFAULT_BACKEND)
      .describe(
        `Where secrets are kept: ${BACKEND_NAMES.join(", ")}. The other keys of store: are that backend's options (docs/backends/).`,
      )
      .register(configFixes, {
        fix: `use one of ${BACKEND_NAMES.join(", ")}, or leave store: out for sqlite under KEYWARD_HOME`,
      }),
  })
  .describe(
    "The secret store: backend plus its options, checked by the backend when the store is opened (docs/backends/).",
  );

const RotationSchema = z
  .strictObject({
    ttl: duration(
      "How long a value may stay current before rotation is due. Defaults to 90d for standard, 30d for high and 1h for agent-exposed secrets.",
    ).optional(),
    grace: duration(
      "How long the previous value stays valid upstream after a rotation. Defaults to 24h for standard, 1h for high and 5m for agent-exposed secrets, never more than the ttl.",
    ).optional(),
  })
  .describe("Rotation schedule.");

/** What `keyward run` does with a key its launch scope check finds over-privileged or short of scope. */
export const SCOPE_POLICIES = ["deny", "warn", "off"] as const;
export type ScopePolicy = (typeof SCOPE_POLICIES)[number];

const SecretDeclSchema = z
  .strictObject({
    provider: nonEmpty(
      "The upstream that issued the key, for example github, slack, atlassian, http or command.",
    ).optional(),
    scope: z
      .array(
        z
          .string()
          .regex(/^\S+$/, { error: "must be one scope without spaces" })
          .describe("One scope, for example repo:read."),
      )
      .default([])
      .describe("Scopes the key is meant to need; the scope check reports anything broader.")
      .register(configFixes, { fix: "write a list of scopes, for example [repo:read, read:org]" }),
    sensitivity: z
      .enum(SENSITIVITIES)
      .default("standard")
      .describe(
        "standard (rotate every 90d), high (billing, admin, IAM: 30d) or agent-exposed (reachable by an agent that may be prompted adversarially: short-lived, 1h).",
      ),
    rotation: RotationSchema.optional(),
    scopePolicy: z
      .enum(SCOPE_POLICIES)
      .optional()
      .describe(
        "What `keyward run` does when the launch scope check finds the key over-privileged or missing a scope the server needs: deny (refuse to start), warn (start and say so) or off (do not check). Defaults to deny for agent-exposed secrets and warn for the others.",
      ),
    owner: nonEmpty("Who answers for this key, for example a team.").optional(),
    description: nonEmpty("What the key is for.").optional(),
    tags: z
      .record(nonEmpty("Tag name."), z.string().describe("Tag value."))
      .default({})
      .describe("Free-form labels, for example { env: prod }.")
      .register(configFixes, {
        fix: 'write tags as a map of names to quoted strings, for example { env: "prod" }',
      }),
  })
  .superRefine((decl, ctx) => {
    const ttl = decl.rotation?.ttl;
    const grace = decl.rotation?.grace;
    if (ttl === undefined || !DURATION_PATTERN.test(ttl)) return;
    if (parseDuration(ttl) === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["rotation", "ttl"],
        message: "must be longer than zero",
        params: { fix: `remove it for the default or ${DURATION_FIX}` },
      });
    } else if (grace !== undefined && DURATION_PATTERN.test(grace)) {
      if (parseDuration(grace) > parseDuration(ttl)) {
        ctx.addIssue({
          code: "custom",
          path: ["rotation", "grace"],
          message: `is longer than rotation.ttl (${ttl})`,
          params: { fix: "shorten rotation.grace or lengthen rotation.ttl" },
        });
      }
    }
  })
  .describe("A secret keyward manages: what it is for, how sensitive it is and how it rotates.");

export const ARGUMENT_POLICIES = ["redact", "block", "allow"] as const;
export type ArgumentPolicy = (typeof ARGUMENT_POLICIES)[number];

/** Header names as HTTP defines them (RFC 9110 token characters). */
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Adds an issue for every `{{secret:name}}` whose name the store would refuse. */
function checkTemplates(text: string, ctx: z.RefinementCtx): void {
  for (const match of text.matchAll(SECRET_TEMPLATE_PATTERN)) {
    try {
      parseSecretName(match[1] ?? "");
    } catch (e) {
      const err = e as KeywardError;
      ctx.addIssue({ code: "custom", message: err.message, params: { fix: err.fix } });
    }
  }
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

const remoteUrl = z
  .string()
  .superRefine((text, ctx) => {
    const fail = (message: string, fix: string) =>
      ctx.addIssue({ code: "custom", message, params: { fix } });
    let url: URL;
    try {
      url = new URL(text.replace(SECRET_TEMPLATE_PATTERN, "x"));
    } catch {
      fail(
        "is not a URL",
        "write the server's endpoint, for example https://api.githubcopilot.com/mcp/",
      );
      return;
    }
    if (
      url.protocol !== "https:" &&
      !(url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname))
    ) {
      fail(
        "must use https (plain http only to localhost)",
        "use the https:// address of the server",
      );
    }
    if (url.username !== "" || url.password !== "") {
      fail(
        "carries credentials",
        "remove user:password@ from the url and send the credential in headers: with {{secret:<name>}}",
      );
    }
    checkTemplates(text, ctx);
  })
  .describe(
    "The endpoint of a remote (Streamable HTTP) MCP server that `keyward run` bridges to stdio. No credentials in it; a query value may be {{secret:<name>}}.",
  );

const MintSchema = z
  .strictObject({
    provider: z
      .enum(["github"])
      .describe("The provider that mints the token: github (a GitHub App installation token).")
      .register(configFixes, { fix: "use github: the only provider keyward mints with so far" }),
    envVar: envVarName.describe(
      "The variable the minted token is put in, for example GITHUB_TOKEN.",
    ),
    privateKey: secretName(
      "The secret holding the GitHub App's private key (PEM). The App id and installation id come from providers.github (appId, installationId).",
    ),
    permissions: z
      .array(
        z
          .string()
          .regex(/^[a-z_]+=(read|write|admin)$/, {
            error: "must be permission=level, for example contents=read",
          })
          .describe("One permission and its level."),
      )
      .min(1, { error: "must name at least one permission" })
      .describe(
        "What the token may do, as permission=level (read, write or admin), for example [contents=read, issues=write]. Never more than the App was granted.",
      )
      .register(configFixes, {
        fix: "write a list such as [contents=read, issues=write]",
      }),
    repositories: z
      .array(nonEmpty("A repository name (owner/name or name) the installation covers."))
      .max(500, { error: "GitHub narrows a token to at most 500 repositories" })
      .optional()
      .describe(
        "Repositories the token is narrowed to; leave out for all the installation covers.",
      ),
  })
  .describe(
    "Mint a short-lived, narrowed token for each `keyward run` of this profile instead of injecting a stored key: renewed before it expires, revoked when the session ends.",
  );

/**
 * A Vault dynamic-secrets path such as database/creds/readonly. No `=` or `,`: the path is part
 * of the name KEYWARD_SECRET_MAP lists (src/run/env.ts); no `..` segment.
 */
const VAULT_DYNAMIC_PATH = /^(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9][A-Za-z0-9._/@+:-]{0,300}$/;

const VaultDynamicSchema = z
  .strictObject({
    vaultDynamic: z
      .string()
      .regex(VAULT_DYNAMIC_PATH, { error: "is not a Vault path" })
      .describe(
        "A Vault dynamic-secrets path read with its lease, for example database/creds/readonly. Needs store: { backend: vault }.",
      )
      .register(configFixes, {
        fix: "write the path after /v1/, for example database/creds/readonly",
      }),
    field: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,100}$/, { error: "is not a field name" })
      .describe("The field of the read's data the variable gets, for example password."),
  })
  .describe(
    "A credential Vault issues per `keyward run`: read once per path (variables naming the same path share one read and lease), renewed, replaced when it cannot be renewed, revoked at exit.",
  );

export type VaultDynamicRef = z.output<typeof VaultDynamicSchema>;

/** HTTP headers to add: names checked, values may name secrets as {{secret:<name>}}. */
const headerMap = z.record(
  z
    .string()
    .regex(HEADER_NAME_PATTERN, { error: "is not a valid header name" })
    .describe("An HTTP header name."),
  z
    .string()
    .superRefine(checkTemplates)
    .describe("The header value; {{secret:<name>}} is replaced by the secret's value."),
);

const ProfileSchema = z
  .strictObject({
    command: nonEmpty(
      "The program that starts the MCP server, for example npx or docker. A remote profile has url instead.",
    ).optional(),
    url: remoteUrl.optional(),
    headers: headerMap
      .optional()
      .describe(
        'Headers keyward adds to every request to url, for example { Authorization: "Bearer {{secret:github/pat}}" }.',
      )
      .register(configFixes, {
        fix: 'map header names to values, for example { Authorization: "Bearer {{secret:github/pat}}" }',
      }),
    args: z
      .array(z.string())
      .default([])
      .describe(
        "Arguments for the command. Never put a secret here: argv is visible to every local user.",
      )
      .register(configFixes, {
        fix: 'write a list of strings, for example ["-y", "some-package"]',
      }),
    env: z
      .record(
        envVarName,
        z.union([secretName("The name of a secret in the store."), VaultDynamicSchema]),
      )
      .default({})
      .describe(
        "Environment variables the server gets, each filled with the value of a secret in the store or a field of a Vault dynamic secret.",
      )
      .register(configFixes, {
        fix: "map variable names to secret names, for example { GITHUB_PERSONAL_ACCESS_TOKEN: github/prod-token }, or to { vaultDynamic: database/creds/readonly, field: password }",
      }),
    setEnv: z
      .record(envVarName, z.string().describe("The literal value."))
      .default({})
      .describe("Environment variables with literal, non-secret values.")
      .register(configFixes, {
        fix: 'map variable names to quoted strings, for example { GITHUB_TOOLSETS: "repos,issues" }',
      }),
    passEnv: z
      .array(envVarName)
      .default([])
      .describe(
        "Variables passed through from keyward's own environment, beyond the minimal set (PATH, HOME, LANG, TMPDIR, ...).",
      ),
    argumentPolicy: z
      .enum(ARGUMENT_POLICIES)
      .default("redact")
      .describe(
        "What to do when a known secret appears in tools/call arguments: redact it, block the call, or allow it.",
      ),
    mint: MintSchema.optional(),
  })
  .superRefine((profile, ctx) => {
    // Each variable has exactly one source, so nobody has to guess which one wins.
    const sources = new Map<string, string>();
    const claim = (name: string, source: string, path: (string | number)[]) => {
      const earlier = sources.get(name);
      if (earlier === undefined) {
        sources.set(name, source);
        return;
      }
      ctx.addIssue({
        code: "custom",
        path,
        message: `${name} is also set in ${earlier}`,
        params: { fix: `set ${name} in one of ${earlier} and ${source}, not both` },
      });
    };
    for (const name of Object.keys(profile.env)) claim(name, "env", ["env", name]);
    for (const name of Object.keys(profile.setEnv)) claim(name, "setEnv", ["setEnv", name]);
    profile.passEnv.forEach((name, i) => {
      claim(name, "passEnv", ["passEnv", i]);
    });
    if (profile.mint !== undefined) claim(profile.mint.envVar, "mint", ["mint", "envVar"]);
  })
  .check(
    z.superRefine(
      (profile, ctx) => {
        // A profile starts a program or bridges to a remote endpoint, never both.
        const hasCommand = profile.command !== undefined;
        const hasUrl = profile.url !== undefined;
        if (hasCommand && hasUrl) {
          ctx.addIssue({
            code: "custom",
            path: ["url"],
            message: "is set together with command",
            params: { fix: "keep command for a local server or url for a remote one, not both" },
          });
        } else if (!hasCommand && !hasUrl) {
          // Reported at `command` so the loader says "is missing" there, the common case.
          ctx.addIssue({
            code: "custom",
            path: ["command"],
            message: "is missing",
            params: {
              fix: "add command: the program that starts the MCP server (or url: for a remote one)",
            },
          });
        } else if (hasUrl && vaultDynamicEnv(profile).length > 0) {
          ctx.addIssue({
            code: "custom",
            path: ["env", vaultDynamicEnv(profile)[0]![0]],
            message: "names a Vault dynamic secret, which only a profile with a command gets",
            params: { fix: "remove it, or start the server locally with command:" },
          });
        } else if (hasUrl && profile.mint !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["mint"],
            message: "only applies to a profile with a command",
            params: {
              fix: "remove mint, or start the server locally with command: so keyward can put the minted token in its environment",
            },
          });
        } else if (!hasUrl && profile.headers !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["headers"],
            message: "only applies to a remote profile (url)",
            params: { fix: "remove headers, or replace command with url" },
          });
        }
      },
      // Run even when other fields failed, so a missing command is reported with them.
      { when: (payload) => typeof payload.value === "object" && payload.value !== null },
    ),
  )
  .describe("How to start one MCP server and which secrets it gets.");

const NotificationSchema = z
  .strictObject({
    name: nonEmpty("How results and errors name this target, for example ops-webhook.").optional(),
    events: z
      .array(z.enum(NOTIFICATION_EVENT_NAMES))
      .min(1, { error: "must name at least one event" })
      .optional()
      .describe(
        "The events this target receives: rotation.succeeded, rotation.failed, revocation. Default: all of them.",
      )
      .register(configFixes, {
        fix: "write a list such as [revocation, rotation.failed]",
      }),
    command: z
      .array(z.string().min(1, { error: "must not be empty" }))
      .min(1, { error: "must name a program" })
      .optional()
      .describe(
        "A program and its arguments, run without a shell; it gets the event as JSON on stdin (never in argv). Relative paths resolve against the config file's folder.",
      )
      .register(configFixes, {
        fix: 'write a list such as ["/usr/local/bin/page-oncall", "--high"]',
      }),
    url: remoteUrl
      .optional()
      .describe(
        "An endpoint the event is POSTed to as JSON: https (plain http only to localhost). It may name a secret as {{secret:<name>}} (a Slack webhook url); keyward then shows only its origin.",
      ),
    headers: headerMap
      .optional()
      .describe(
        'Headers for the POST, for example { Authorization: "Bearer {{secret:ops/hook}}" }.',
      ),
    timeout: duration("How long one attempt may take. Default 5s.").optional(),
    retries: z
      .int()
      .min(0)
      .max(5)
      .optional()
      .describe(
        "Attempts after a failed one (a 429, a 5xx, a timeout, a failed command). Default 2.",
      ),
  })
  .superRefine((target, ctx) => {
    const hasCommand = target.command !== undefined;
    const hasUrl = target.url !== undefined;
    if (hasCommand === hasUrl) {
      ctx.addIssue({
        code: "custom",
        path: hasCommand ? ["url"] : ["command"],
        message: hasCommand ? "is set together with command" : "is missing",
        params: { fix: "give either command: (a program) or url: (an endpoint to POST to)" },
      });
    } else if (hasCommand && target.headers !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["headers"],
        message: "only applies to a url target",
        params: { fix: "remove headers, or replace command with url" },
      });
    }
  })
  .describe(
    "Where keyward reports rotations and revocations: a command or an HTTP POST. Payloads never hold a value; a failing notification is reported but never fails the rotation or revocation.",
  );

const RevocationSchema = z
  .strictObject({
    repositories: z
      .array(
        nonEmpty(
          "A path to a git checkout; relative to the config file's folder, ~ for the home folder.",
        ),
      )
      .default([])
      .describe(
        "Git repositories whose history `keyward revoke` searches for the revoked value, besides the one it runs in.",
      ),
    wait: duration(
      "How long `keyward revoke` waits for running `keyward run` proxies to reload or stop. Default 15s.",
    ).optional(),
  })
  .describe("Settings of the emergency revocation runbook (`keyward revoke`).");

const profileName = z
  .string()
  .regex(PROFILE_NAME_PATTERN, { error: "is not a valid profile name" })
  .describe("A profile name, as typed after `keyward run`.")
  .register(configFixes, {
    fix: "use up to 64 letters, digits and . _ -, starting with a letter or digit (for example github)",
  });

export const ConfigSchema = z
  .strictObject({
    $schema: z
      .string()
      .optional()
      .describe("The JSON Schema this file follows, for editors (schema/keyward.schema.json)."),
    version: z
      .literal(CONFIG_VERSION)
      .describe("The config format version.")
      .register(configFixes, { fix: `set version: ${CONFIG_VERSION} (the only version so far)` }),
    store: StoreSchema.default({ backend: DEFAULT_BACKEND }),
    masterKey: MasterKeyOptionsSchema.optional(),
    secrets: z
      .record(
        secretName("A secret name: slash-separated segments, for example github/prod-token."),
        SecretDeclSchema,
      )
      .default({})
      .describe("Secrets keyward manages, by name."),
    profiles: z
      .record(profileName, ProfileSchema)
      .default({})
      .describe("MCP servers keyward can start, by profile name."),
    providers: z
      .record(
        z.string().describe("A provider id: github, slack, atlassian, http, command."),
        z
          .record(z.string(), z.unknown())
          .describe(
            "Settings for that provider, checked by the provider (e.g. github: apiBaseUrl for GitHub Enterprise; http and command: their requests or scripts). Never a secret value: name secrets instead.",
          ),
      )
      .default({})
      .describe("Provider settings, by provider id (docs/providers.md)."),
    notifications: z
      .array(NotificationSchema)
      .default([])
      .describe("Targets notified of rotations and revocations (docs/revoke.md)."),
    revocation: RevocationSchema.optional(),
  })
  .superRefine((config, ctx) => {
    // Only the Vault backend can read a dynamic secret with its lease.
    if (config.store.backend === "vault") return;
    for (const [name, profile] of Object.entries(config.profiles)) {
      for (const [envVar] of vaultDynamicEnv(profile)) {
        ctx.addIssue({
          code: "custom",
          path: ["profiles", name, "env", envVar],
          message: `names a Vault dynamic secret, but the store backend is ${config.store.backend}`,
          params: {
            fix: "set store: { backend: vault } (docs/backends/vault.md), or name a secret in the store",
          },
        });
      }
    }
  })
  .describe("keyward configuration.");

/** The config as parsed: defaults applied, durations still as written. */
export type KeywardConfig = z.output<typeof ConfigSchema>;
/** The config as a person writes it. */
export type KeywardConfigInput = z.input<typeof ConfigSchema>;
export type SecretDeclConfig = KeywardConfig["secrets"][string];
export type ProfileConfig = KeywardConfig["profiles"][string];
export type MintConfig = NonNullable<ProfileConfig["mint"]>;
export type NotificationConfig = KeywardConfig["notifications"][number];
export type RevocationConfig = NonNullable<KeywardConfig["revocation"]>;

/** A profile's env entries that name a secret in the store: [variable, secret name]. */
export function storeEnv(profile: { env?: ProfileConfig["env"] }): Array<[string, string]> {
  return Object.entries(profile.env ?? {}).filter(
    (entry): entry is [string, string] => typeof entry[1] === "string",
  );
}

/** A profile's env entries that name a Vault dynamic secret: [variable, path and field]. */
export function vaultDynamicEnv(profile: {
  env?: ProfileConfig["env"];
}): Array<[string, VaultDynamicRef]> {
  return Object.entries(profile.env ?? {}).filter(
    (entry): entry is [string, VaultDynamicRef] => typeof entry[1] !== "string",
  );
}

export const CONFIG_SCHEMA_ID = "urn:keyward:config:1";

/** The JSON Schema for editors, as committed in schema/keyward.schema.json. */
export function configJsonSchema(): Record<string, unknown> {
  // "input": what a person writes, so fields with defaults are optional.
  const { $schema, ...rest } = z.toJSONSchema(ConfigSchema, {
    io: "input",
    target: "draft-2020-12",
    // The command-or-url rule is a refinement, which JSON Schema cannot see; say it in oneOf.
    override: (ctx) => {
      if (ctx.zodSchema === ProfileSchema) {
        ctx.jsonSchema.oneOf = [{ required: ["command"] }, { required: ["url"] }];
      }
    },
  });
  return {
    $schema,
    $id: CONFIG_SCHEMA_ID,
    title: "keyward configuration",
    ...rest,
    description:
      "keyward.yaml / keyward.json: the secrets keyward manages and the MCP server profiles it starts. See src/config/README.md.",
  };
}
