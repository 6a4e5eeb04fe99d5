/**
 * Turns one server entry into an entry that launches `keyward run`: stdio entries get a new
 * command and args and lose the env variables that moved to the store; remote entries become
 * stdio entries (url/serverUrl → command + args, headers dropped, `type` set to "stdio").
 * Every other key, comment and the key order stay as they were. Each step re-parses the text,
 * so removals of neighbouring properties never fight over the same comma.
 */
import { findNodeAtLocation, type Node, parseTree } from "jsonc-parser";
import {
  applyEdits,
  detectLayout,
  type Layout,
  leadingIndent,
  removeProperty,
  renderStringArray,
  replaceProperty,
  replaceValue,
  type TextEdit,
} from "./jsonc-edit.js";
import type { JsonPath } from "./types.js";

export interface EntryRewrite {
  command: string;
  args: readonly string[];
  /** env variables to drop from the entry: their values now come from the store */
  removeEnv: readonly string[];
  /** for a remote entry: the key holding its endpoint (`url`, `serverUrl`) */
  urlKey?: string;
}

/** The property node (`"key": value`) of `key` in an object node. */
function propertyOf(object: Node, key: string): Node | undefined {
  return object.children?.find((p) => p.children?.[0]?.value === key);
}

function textOf(text: string, node: Node): string {
  return text.slice(node.offset, node.offset + node.length);
}

function entryAt(text: string, path: JsonPath): Node {
  const root = parseTree(text, [], { allowTrailingComma: true });
  const node = root === undefined ? undefined : findNodeAtLocation(root, [...path]);
  if (node?.type !== "object") throw new Error(`no server entry at ${path.join(".")}`);
  return node;
}

/** Whether the file writes `args` arrays on one line; new arrays follow the same habit. */
function prefersInlineArrays(text: string, entry: Node): boolean {
  for (const match of text.matchAll(/"args"\s*:\s*\[([^\]]*)\]/g)) {
    if ((match[1] ?? "").includes(",")) return !(match[1] ?? "").includes("\n");
  }
  return !textOf(text, entry).includes("\n");
}

/** `"command": …, "args": […]` in place of another property, on their own lines when that one was. */
function commandAndArgs(
  text: string,
  at: Node,
  change: EntryRewrite,
  inline: boolean,
  layout: Layout,
): string {
  const indent = leadingIndent(text, at.offset);
  const command = `"command": ${JSON.stringify(change.command)}`;
  if (indent === undefined) {
    return `${command}, "args": ${renderStringArray(change.args, true, "", layout)}`;
  }
  const args = renderStringArray(change.args, inline, indent, layout);
  return `${command},${layout.eol}${indent}"args": ${args}`;
}

function step(text: string, path: JsonPath, edit: (entry: Node) => TextEdit[]): string {
  return applyEdits(text, edit(entryAt(text, path)));
}

/** Returns the file text with the entry at `path` rewritten. */
export function rewriteEntry(text: string, path: JsonPath, change: EntryRewrite): string {
  const layout = detectLayout(text);
  let out = text;

  for (const name of change.removeEnv) {
    out = step(out, path, (entry) => {
      const envProperty = propertyOf(entry, "env");
      const env = envProperty?.children?.[1];
      const property = env === undefined ? undefined : propertyOf(env, name);
      if (envProperty === undefined || env === undefined || property === undefined) return [];
      // The last variable takes the env key with it rather than leaving "env": {}.
      return env.children?.length === 1
        ? removeProperty(out, entry, envProperty)
        : removeProperty(out, env, property);
    });
  }

  out = step(out, path, (entry) => {
    const headers = propertyOf(entry, "headers");
    return change.urlKey !== undefined && headers !== undefined
      ? removeProperty(out, entry, headers)
      : [];
  });

  return step(out, path, (entry) => {
    const edits: TextEdit[] = [];
    const type = propertyOf(entry, "type")?.children?.[1];
    if (type?.type === "string" && type.value !== "stdio") {
      edits.push(replaceValue(type, '"stdio"'));
    }
    const command = propertyOf(entry, "command");
    const inline = prefersInlineArrays(out, entry);
    if (command === undefined) {
      const url = change.urlKey === undefined ? undefined : propertyOf(entry, change.urlKey);
      if (url === undefined) throw new Error("the entry has neither command nor url");
      edits.push(replaceProperty(url, commandAndArgs(out, url, change, inline, layout)));
      return edits;
    }
    edits.push(replaceValue(command.children![1]!, JSON.stringify(change.command)));
    const args = propertyOf(entry, "args");
    if (args !== undefined) {
      const value = args.children![1]!;
      const wasInline = !textOf(out, value).includes("\n");
      const indent = leadingIndent(out, args.offset) ?? "";
      edits.push(replaceValue(value, renderStringArray(change.args, wasInline, indent, layout)));
      return edits;
    }
    const indent = leadingIndent(out, command.offset);
    const rendered = renderStringArray(
      change.args,
      inline || indent === undefined,
      indent ?? "",
      layout,
    );
    edits.push({
      offset: command.offset + command.length,
      length: 0,
      content:
        indent === undefined
          ? `, "args": ${rendered}`
          : `,${layout.eol}${indent}"args": ${rendered}`,
    });
    return edits;
  });
}
