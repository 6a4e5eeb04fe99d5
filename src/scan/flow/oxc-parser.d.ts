/**
 * Two modules oxc-parser exports without type declarations, as js.ts uses them: the native
 * binding's parseSync, whose result's `program` getter gives the ESTree program as JSON, and the
 * parser's own function that turns that JSON into the program.
 */
declare module "oxc-parser/src-js/bindings" {
  import type { ParserOptions } from "oxc-parser";
  export function parseSync(
    filename: string,
    sourceText: string,
    options?: ParserOptions,
  ): { readonly program: string };
}

declare module "oxc-parser/src-js/wrap" {
  export function jsonParseAst(programJson: string): unknown;
}
