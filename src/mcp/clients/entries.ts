/**
 * Reads the server entries of a client config file, keeping the syntax tree so that edits can
 * touch only the bytes they change (comments, key order and formatting elsewhere survive).
 * JSON and JSONC (VS Code: comments, trailing commas) go through the same parser.
 */
import {
  findNodeAtLocation,
  getNodeValue,
  type Node,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "jsonc-parser";
import { KeywardError } from "../../core/errors.js";
import type { ClientAdapter, ClientConfigFile, JsonPath, ServerMapRef } from "./types.js";

export interface ParsedClientFile {
  file: ClientConfigFile;
  text: string;
  root: Node;
  doc: unknown;
  entries: ServerEntry[];
}

export type Transport = "stdio" | "remote" | "unknown";

export interface ServerEntry {
  /** the key in the server map */
  name: string;
  map: ServerMapRef;
  /** path of the entry object in the document */
  path: JsonPath;
  node: Node;
  transport: Transport;
  command?: string;
  args: string[];
  env: Record<string, string>;
  /** the key that held the endpoint (`url`, `serverUrl`) */
  urlKey?: string;
  url?: string;
  headers: Record<string, string>;
  /** the entry as parsed, for keys this module does not model */
  value: Record<string, unknown>;
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
}

/** Parses a client file; throws config_invalid naming the place (never the text) when it is not JSON(C). */
export function parseClientFile(
  adapter: ClientAdapter,
  file: ClientConfigFile,
  text: string,
): ParsedClientFile {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first !== undefined || root === undefined) {
    const where = first === undefined ? "" : `:${lineAndColumn(text, first.offset)}`;
    const why = first === undefined ? "it is empty" : printParseErrorCode(first.error);
    throw new KeywardError(
      "config_invalid",
      `${file.path}${where}: not valid JSON (${why})`,
      `fix the file so that ${adapter.displayName} can read it, then run keyward adopt again`,
    );
  }
  const doc: unknown = getNodeValue(root);
  const entries: ServerEntry[] = [];
  for (const map of adapter.serverMaps(doc, file)) {
    const mapNode = findNodeAtLocation(root, [...map.path]);
    if (mapNode?.type !== "object") continue;
    for (const property of mapNode.children ?? []) {
      const [keyNode, valueNode] = property.children ?? [];
      if (keyNode === undefined || valueNode?.type !== "object") continue;
      const name = String(keyNode.value);
      entries.push(readEntry(adapter, name, map, valueNode, getNodeValue(valueNode)));
    }
  }
  return { file, text, root, doc, entries };
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

function readEntry(
  adapter: ClientAdapter,
  name: string,
  map: ServerMapRef,
  node: Node,
  value: Record<string, unknown>,
): ServerEntry {
  const entry: ServerEntry = {
    name,
    map,
    path: [...map.path, name],
    node,
    transport: "unknown",
    args: Array.isArray(value.args)
      ? value.args.filter((a): a is string => typeof a === "string")
      : [],
    env: stringMap(value.env),
    headers: stringMap(value.headers),
    value,
  };
  if (typeof value.command === "string") {
    entry.transport = "stdio";
    entry.command = value.command;
    return entry;
  }
  const urlKey = adapter.remoteUrlKeys.find((key) => typeof value[key] === "string");
  if (urlKey !== undefined) {
    entry.transport = "remote";
    entry.urlKey = urlKey;
    entry.url = value[urlKey] as string;
  }
  return entry;
}

/** `mcpServers.github`, `projects["/abs"].mcpServers.github`: a path people can find in the file. */
export function describePath(path: JsonPath): string {
  return path
    .map((key, i) =>
      /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)
        ? `${i === 0 ? "" : "."}${key}`
        : `[${JSON.stringify(key)}]`,
    )
    .join("");
}
