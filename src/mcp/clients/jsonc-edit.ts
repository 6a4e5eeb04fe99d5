/**
 * Minimal text edits on a JSON(C) document: replace a value, rename-and-replace a property,
 * remove a property. jsonc-parser's own `modify` re-formats the surrounding lines and drops a
 * comment that trails the property before the one it removes, so the edits here are computed
 * from the syntax tree by hand, touching only the bytes that change.
 */
import type { Node } from "jsonc-parser";

export interface TextEdit {
  offset: number;
  length: number;
  content: string;
}

/** How the file is laid out, so new text matches it. */
export interface Layout {
  eol: string;
  /** one level of indentation */
  unit: string;
}

export function detectLayout(text: string): Layout {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  // The shallowest indentation in the file is one level (two spaces, four, or a tab).
  let unit: string | undefined;
  for (const match of text.matchAll(/\n([ \t]+)\S/g)) {
    const indent = match[1] ?? "";
    if (unit === undefined || indent.length < unit.length) unit = indent;
  }
  return { eol, unit: unit ?? "  " };
}

/** Applies non-overlapping edits (any order). */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.offset - a.offset);
  let out = text;
  let limit = Number.POSITIVE_INFINITY;
  for (const edit of sorted) {
    if (edit.offset + edit.length > limit) throw new Error("overlapping edits");
    out = out.slice(0, edit.offset) + edit.content + out.slice(edit.offset + edit.length);
    limit = edit.offset;
  }
  return out;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

/** The whitespace that starts the line holding `offset`, or undefined when other text precedes it there. */
export function leadingIndent(text: string, offset: number): string | undefined {
  const before = text.slice(lineStart(text, offset), offset);
  return /^[ \t]*$/.test(before) ? before : undefined;
}

/** Past spaces, tabs and comments that stay on the current line. */
function skipSameLineTrivia(text: string, from: number): number {
  let pos = from;
  for (;;) {
    while (text[pos] === " " || text[pos] === "\t") pos++;
    if (text.startsWith("/*", pos)) {
      const close = text.indexOf("*/", pos + 2);
      if (close === -1 || text.slice(pos, close).includes("\n")) return pos;
      pos = close + 2;
    } else if (text.startsWith("//", pos)) {
      const eol = text.indexOf("\n", pos);
      return eol === -1 ? text.length : text[eol - 1] === "\r" ? eol - 1 : eol;
    } else {
      return pos;
    }
  }
}

/** Past whitespace and comments of any kind. */
function skipTrivia(text: string, from: number): number {
  let pos = from;
  for (;;) {
    while (/\s/.test(text[pos] ?? "")) pos++;
    if (text.startsWith("//", pos)) {
      const eol = text.indexOf("\n", pos);
      pos = eol === -1 ? text.length : eol;
    } else if (text.startsWith("/*", pos)) {
      const close = text.indexOf("*/", pos + 2);
      pos = close === -1 ? text.length : close + 2;
    } else {
      return pos;
    }
  }
}

function afterNewline(text: string, pos: number): number | undefined {
  if (text.startsWith("\r\n", pos)) return pos + 2;
  if (text[pos] === "\n") return pos + 1;
  return undefined;
}

/**
 * Renders a string array the way the file writes arrays: on one line (`["a", "b"]`) or one
 * element per line, indented one level below `indent`.
 */
export function renderStringArray(
  items: readonly string[],
  inline: boolean,
  indent: string,
  layout: Layout,
): string {
  if (items.length === 0) return "[]";
  const quoted = items.map((item) => JSON.stringify(item));
  if (inline) return `[${quoted.join(", ")}]`;
  const inner = indent + layout.unit;
  return `[${layout.eol}${quoted.map((q) => inner + q).join(`,${layout.eol}`)}${layout.eol}${indent}]`;
}

/** Replaces a value node with new JSON text. */
export function replaceValue(node: Node, content: string): TextEdit {
  return { offset: node.offset, length: node.length, content };
}

/** Replaces a whole property (`"key": value`) with other text, e.g. one or more new properties. */
export function replaceProperty(property: Node, content: string): TextEdit {
  return { offset: property.offset, length: property.length, content };
}

/**
 * Removes one property with its comma and the comments on its own line(s), leaving the comments
 * and layout of its neighbours as they were. Returns one or two edits (two when the comma to
 * drop belongs to the previous property).
 */
export function removeProperty(text: string, object: Node, property: Node): TextEdit[] {
  const siblings = object.children ?? [];
  const index = siblings.indexOf(property);
  if (index === -1) throw new Error("property is not a child of the object");
  const end = property.offset + property.length;

  if (siblings.length === 1) {
    // The only property: leave an empty object.
    return [{ offset: object.offset + 1, length: object.length - 2, content: "" }];
  }

  if (index < siblings.length - 1) {
    // Not the last: take its own comma and whatever trails it on the same line.
    let stop = skipSameLineTrivia(text, end);
    if (text[stop] === ",") stop = skipSameLineTrivia(text, stop + 1);
    const indent = leadingIndent(text, property.offset);
    const nextLine = afterNewline(text, stop);
    if (indent !== undefined && nextLine !== undefined) {
      return [
        {
          offset: property.offset - indent.length,
          length: nextLine - (property.offset - indent.length),
          content: "",
        },
      ];
    }
    return [{ offset: property.offset, length: stop - property.offset, content: "" }];
  }

  // The last one: the comma before it goes (the previous property's), and so does a trailing comma after it.
  const previous = siblings[index - 1]!;
  const comma = skipTrivia(text, previous.offset + previous.length);
  const edits: TextEdit[] = [];
  let stop = skipSameLineTrivia(text, end);
  if (text[stop] === ",") stop = skipSameLineTrivia(text, stop + 1);
  const indent = leadingIndent(text, property.offset);
  if (indent !== undefined) {
    // Own line: remove from the end of the line before, so no blank line is left.
    let start = lineStart(text, property.offset) - 1;
    if (text[start - 1] === "\r") start--;
    if (comma < start && text[comma] === ",") edits.push({ offset: comma, length: 1, content: "" });
    edits.push({ offset: start, length: stop - start, content: "" });
    return edits;
  }
  // Same line as the previous property: from its comma to the end of this one (and its own trailing comma).
  const start = text[comma] === "," ? comma : property.offset;
  const trailing = skipSameLineTrivia(text, end);
  edits.push({
    offset: start,
    length: (text[trailing] === "," ? trailing + 1 : end) - start,
    content: "",
  });
  return edits;
}
