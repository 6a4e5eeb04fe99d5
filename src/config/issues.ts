/**
 * Turns YAML syntax errors and zod issues into config issues that name the file, the line,
 * the path in the file, what is wrong and how to fix it.
 *
 * Never echoes a value from the file except the short enum-like ones (version, sensitivity,
 * argumentPolicy, backend): any other value may be a secret pasted by mistake.
 */
import {
  type Document,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type LineCounter,
  type YAMLError,
  type ErrorCode as YamlErrorCode,
} from "yaml";
import type * as z from "zod";
import { KeywardError } from "../core/errors.js";
import { type ConfigIssue, formatIssue } from "./loaded.js";
import { ConfigSchema, configFixes } from "./schema.js";
import { didYouMean } from "./suggest.js";

export { type ConfigIssue, formatIssue };

const MAX_SHOWN_ISSUES = 20;

/** A config that cannot be used; `issues` lists every problem found, in file order. */
export class ConfigError extends KeywardError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const shown = issues.slice(0, MAX_SHOWN_ISSUES);
    const more = issues.length - shown.length;
    const tail = more > 0 ? [`…and ${more} more`] : [];
    const only = issues.length === 1 ? issues[0] : undefined;
    super(
      "config_invalid",
      [...shown.map(formatIssue), ...tail].join("\n"),
      only !== undefined
        ? only.fix
        : shown.map((i) => (i.path === "" ? i.fix : `${i.path}: ${i.fix}`)).join("\n"),
    );
    this.name = "ConfigError";
    this.issues = issues;
  }

  override toJSON(): {
    code: "config_invalid";
    message: string;
    fix?: string;
    issues: ConfigIssue[];
  } {
    return { ...super.toJSON(), code: "config_invalid", issues: [...this.issues] };
  }
}

// Written out rather than taken from the yaml package's messages, some of which quote the
// offending source text, and that text may be a secret.
const YAML_ERROR_TEXT: Record<YamlErrorCode, string> = {
  ALIAS_PROPS: "an alias cannot have an anchor or a tag",
  BAD_ALIAS: "an alias refers to an anchor that does not exist",
  BAD_DIRECTIVE: "the % directive is not valid",
  BAD_DQ_ESCAPE: "a double-quoted string has an invalid \\ escape",
  BAD_INDENT: "the indentation is inconsistent",
  BAD_PROP_ORDER: "anchors and tags are in the wrong order",
  BAD_SCALAR_START: "an unquoted value starts with a reserved character",
  BLOCK_AS_IMPLICIT_KEY: "a nested mapping cannot start on the same line as its key",
  BLOCK_IN_FLOW: "an indented block is inside a [ ] or { } collection",
  DUPLICATE_KEY: "a key appears twice in the same mapping",
  IMPOSSIBLE: "the YAML could not be parsed",
  KEY_OVER_1024_CHARS: "a key is longer than 1024 characters",
  MISSING_CHAR: "a closing quote, bracket or separator is missing",
  MULTILINE_IMPLICIT_KEY: "a key spans several lines",
  MULTIPLE_ANCHORS: "a node has more than one anchor",
  MULTIPLE_DOCS: "the file holds more than one YAML document (---)",
  MULTIPLE_TAGS: "a node has more than one tag",
  NON_STRING_KEY: "a key is not a plain string",
  RESOURCE_EXHAUSTION: "anchors and aliases expand too far",
  TAB_AS_INDENT: "a tab is used for indentation",
  TAG_RESOLVE_FAILED: "a ! tag could not be resolved",
  UNEXPECTED_TOKEN: "unexpected character",
  BAD_COLLECTION_TYPE: "a ! tag does not fit its collection",
};

const YAML_FIX: Partial<Record<YamlErrorCode, string>> = {
  BAD_INDENT: "indent keys of the same mapping by the same number of spaces",
  TAB_AS_INDENT: "indent with spaces, not tabs",
  DUPLICATE_KEY: "keep one of the two keys",
  MISSING_CHAR: "close the quote or bracket opened before this point",
  MULTIPLE_DOCS: "keep one document: remove the extra --- line",
  BLOCK_AS_IMPLICIT_KEY: "put the nested keys on their own lines, indented under the key",
  BAD_SCALAR_START: "put the value in quotes",
};

export function yamlSyntaxIssue(file: string, error: YAMLError, lines: LineCounter): ConfigIssue {
  const { line, col } = lines.linePos(error.pos[0]);
  return {
    file,
    line,
    column: col,
    path: "",
    message: `${file.endsWith(".json") ? "JSON" : "YAML"} syntax error: ${YAML_ERROR_TEXT[error.code] ?? "the file could not be parsed"}`,
    fix: YAML_FIX[error.code] ?? "correct the syntax at this line and column",
  };
}

type Segment = PropertyKey;

/** `profiles.github.env.GITHUB_TOKEN`; `args[0]`; `secrets["app.key"]` for names with dots. */
export function formatPath(path: readonly Segment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") {
      out += `[${segment}]`;
      continue;
    }
    const text = shorten(String(segment));
    out += /^[A-Za-z0-9_$/@+=-]+$/.test(text)
      ? `${out === "" ? "" : "."}${text}`
      : `[${JSON.stringify(text)}]`;
  }
  return out;
}

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** Where the node at `path` sits in the file: the key's position for mapping entries. */
export function locate(
  doc: Document,
  lines: LineCounter,
  path: readonly Segment[],
): { line: number; column: number } | undefined {
  let node: unknown = doc.contents;
  let offset = isNode(node) ? node.range?.[0] : undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isScalar(p.key) && String(p.key.value) === String(segment),
      );
      if (pair === undefined) break;
      if (isNode(pair.key)) offset = pair.key.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment];
      if (!isNode(item)) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

// Minimal view of zod 4's schema internals, enough to walk from the root to the schema at a path.
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  innerType?: z.ZodType;
  /** Discriminated unions (masterKey:, a Vault auth:): the field that picks the branch. */
  discriminator?: string;
  options?: z.ZodType[];
  /** Literals: their values. */
  values?: unknown[];
}
const defOf = (schema: z.ZodType): SchemaDef => schema._zod.def as unknown as SchemaDef;

/** The schema and its wrappers (optional, default), outermost first. */
function layers(schema: z.ZodType): z.ZodType[] {
  const out = [schema];
  let inner = defOf(schema).innerType;
  while (inner !== undefined) {
    out.push(inner);
    inner = defOf(inner).innerType;
  }
  return out;
}

function innermost(schema: z.ZodType): z.ZodType {
  return layers(schema).at(-1) ?? schema;
}

function schemaAt(root: z.ZodType, path: readonly Segment[]): z.ZodType | undefined {
  let node: z.ZodType | undefined = root;
  for (const segment of path) {
    if (node === undefined) return undefined;
    const def = defOf(innermost(node));
    if (def.type === "object") node = def.shape?.[String(segment)];
    else if (def.type === "record") node = def.valueType;
    else if (def.type === "array") node = def.element;
    else return undefined;
  }
  return node;
}

function keySchemaAt(root: z.ZodType, recordPath: readonly Segment[]): z.ZodType | undefined {
  const record = schemaAt(root, recordPath);
  return record === undefined ? undefined : defOf(innermost(record)).keyType;
}

/** The keys an object schema allows; for a discriminated union, those of the branch `value` picks. */
function objectKeys(schema: z.ZodType | undefined, value?: unknown): string[] {
  if (schema === undefined) return [];
  const def = defOf(innermost(schema));
  if (def.type === "union" && def.discriminator !== undefined) {
    const picked = (value as Record<string, unknown> | undefined)?.[def.discriminator];
    const branch = def.options?.find((option) => {
      const literal = defOf(innermost(option)).shape?.[def.discriminator as string];
      return literal !== undefined && defOf(innermost(literal)).values?.includes(picked);
    });
    return objectKeys(branch);
  }
  return def.type === "object" ? Object.keys(def.shape ?? {}) : [];
}

function registeredFix(schema: z.ZodType | undefined): string | undefined {
  if (schema === undefined) return undefined;
  for (const layer of layers(schema)) {
    const fix = configFixes.get(layer)?.fix;
    if (fix !== undefined) return fix;
  }
  return undefined;
}

function description(schema: z.ZodType | undefined): string | undefined {
  if (schema === undefined) return undefined;
  for (const layer of layers(schema)) {
    if (layer.description !== undefined) return layer.description;
  }
  return undefined;
}

function fixFor(schema: z.ZodType | undefined, fallback: string): string {
  const text = registeredFix(schema) ?? description(schema);
  return text === undefined ? fallback : lowerFirst(text);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function valueAt(data: unknown, path: readonly Segment[]): unknown {
  let node = data;
  for (const segment of path) {
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, segment))
      return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

function kindOf(value: unknown): string {
  if (value === null) return "nothing (null)";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "object":
      return "a mapping";
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "true/false";
    default:
      return typeof value;
  }
}

const EXPECTED: Record<string, string> = {
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  string: "a string",
  number: "a number",
  boolean: "true or false",
};

/** Translates one zod issue into config issues (unknown keys give one issue per key). */
export function zodIssues(
  issue: z.core.$ZodIssue,
  file: string,
  data: unknown,
  where: (path: readonly Segment[]) => { line: number; column: number } | undefined,
  /** The schema the issue's path starts from: the whole config unless a section is checked on its own. */
  root: z.ZodType = ConfigSchema,
): ConfigIssue[] {
  const make = (path: readonly Segment[], message: string, fix: string): ConfigIssue => ({
    file,
    ...where(path),
    path: formatPath(path),
    message,
    fix,
  });
  const path = issue.path;
  const key = String(path.at(-1) ?? "");
  const schema = schemaAt(root, path);
  const value = valueAt(data, path);

  if (path.length > 0 && value === undefined && issue.code !== "unrecognized_keys") {
    // A required key is absent: point at the mapping that should hold it.
    const fix = registeredFix(schema) ?? `add ${key}: ${fixFor(schema, "a value")}`;
    const issueAt = make(path, "is missing", fix);
    return [{ ...issueAt, ...where(path.slice(0, -1)) }];
  }

  switch (issue.code) {
    case "unrecognized_keys": {
      const parent = schemaAt(root, path);
      const known = objectKeys(parent, value);
      return issue.keys.map((unknownKey) => {
        const suggestion = didYouMean(unknownKey, known);
        const nested = known.find((k) =>
          objectKeys(schemaAt(root, [...path, k])).includes(unknownKey),
        );
        const fix =
          suggestion !== undefined
            ? `did you mean ${suggestion}?`
            : nested !== undefined
              ? `move it under ${nested}: (${nested}.${unknownKey})`
              : known.length === 0
                ? "remove it; no other keys are allowed here"
                : `remove it; the keys allowed here are ${known.join(", ")}`;
        return make(
          [...path, unknownKey],
          `unknown key ${JSON.stringify(shorten(unknownKey))}`,
          fix,
        );
      });
    }
    case "invalid_key": {
      const inner = issue.issues[0];
      const keySchema = keySchemaAt(root, path.slice(0, -1));
      if (inner?.code === "custom") {
        const fix = (inner.params as { fix?: string } | undefined)?.fix;
        return [make(path, inner.message, fix ?? fixFor(keySchema, "rename the key"))];
      }
      const what = inner?.message ?? "is not a valid key";
      return [
        make(path, `${JSON.stringify(shorten(key))} ${what}`, fixFor(keySchema, "rename the key")),
      ];
    }
    case "invalid_type": {
      if (value === null) {
        return [
          make(
            path,
            `is empty, expected ${EXPECTED[issue.expected] ?? issue.expected}`,
            registeredFix(schema) ??
              `fill it in with ${EXPECTED[issue.expected] ?? issue.expected}, or remove ${key}`,
          ),
        ];
      }
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      const quote =
        issue.expected === "string" && (typeof value === "number" || typeof value === "boolean");
      return [
        make(
          path,
          `expected ${expected}, got ${kindOf(value)}`,
          quote
            ? 'put the value in quotes (YAML reads 1, 0755 or true as numbers and booleans, for example "1")'
            : fixFor(schema, `write ${expected}`),
        ),
      ];
    }
    case "invalid_value": {
      const allowed = issue.values.map((v) => JSON.stringify(v));
      const suggestion =
        typeof value === "string"
          ? didYouMean(
              value,
              issue.values.map((v) => String(v)),
            )
          : undefined;
      // Only echo what cannot be a secret: a near miss of an allowed word, or a small number.
      const echo =
        suggestion !== undefined ||
        typeof value === "boolean" ||
        (Number.isInteger(value) && Math.abs(value as number) < 1000);
      const got = echo ? `, got ${JSON.stringify(value)}` : `, got ${kindOf(value)}`;
      const message =
        allowed.length === 1
          ? `must be ${allowed[0]}${got}`
          : `must be one of ${allowed.join(", ")}${got}`;
      const fix =
        suggestion !== undefined
          ? `did you mean ${suggestion}?`
          : (registeredFix(schema) ?? `use one of ${allowed.join(", ")}`);
      return [make(path, message, fix)];
    }
    case "custom": {
      const fix = (issue.params as { fix?: string } | undefined)?.fix;
      return [make(path, issue.message, fix ?? fixFor(schema, "correct the value"))];
    }
    default:
      return [make(path, issue.message, fixFor(schema, "correct the value"))];
  }
}

/** An issue when the document is empty or its top level is not a mapping. */
export function topLevelIssue(
  file: string,
  data: unknown,
  position: { line: number; column: number } | undefined,
): ConfigIssue | undefined {
  if (data === undefined || data === null) {
    return {
      file,
      path: "",
      message: "the file is empty",
      fix: "start it with version: 1 (see src/config/example.keyward.yaml)",
    };
  }
  if (typeof data !== "object" || Array.isArray(data)) {
    return {
      file,
      ...position,
      path: "",
      message: `the top level must be a mapping (version, store, secrets, profiles), got ${kindOf(data)}`,
      fix: "start the file with version: 1 and put secrets: and profiles: below it",
    };
  }
  return undefined;
}

export function configError(issues: ConfigIssue[]): ConfigError {
  const sorted = [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return new ConfigError(sorted);
}
