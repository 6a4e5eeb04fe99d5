import type { Scrubber, ScrubHit } from "../framing.js";

/**
 * A stand-in for src/redact's Redactor, so these tests do not depend on it: replaces each
 * value's raw form and its standard base64 (of the value alone) with `[REDACTED:NAME]`.
 * `mode` simulates broken scrubbers: "break-json" replaces with a quoted marker (invalid inside a
 * JSON string), "report-only" finds values but leaves them in place.
 */
export class TestScrubber implements Scrubber {
  private readonly secrets: Array<{ name: string; value: string }> = [];

  constructor(
    secrets: Array<{ name: string; value: string }> = [],
    private readonly mode: "ok" | "break-json" | "report-only" = "ok",
  ) {
    for (const secret of secrets) this.add(secret);
  }

  add(secret: { name: string; value: string }): void {
    this.secrets.push(secret);
  }

  redactBuffer(buffer: Buffer): { buffer: Buffer; hits: ScrubHit[] } {
    const found = this.secrets.some((secret) =>
      this.needles(secret.value).some(([, needle]) => buffer.includes(needle)),
    );
    if (!found) return { buffer, hits: [] };
    const { text, hits } = this.redactText(buffer.toString("utf8"));
    return { buffer: Buffer.from(text, "utf8"), hits };
  }

  redactText(text: string): { text: string; hits: ScrubHit[] } {
    const hits: ScrubHit[] = [];
    let out = text;
    for (const { name, value } of this.secrets) {
      for (const [form, needle] of this.needles(value)) {
        const parts = out.split(needle);
        for (let i = 1; i < parts.length; i++) hits.push({ secret: name, form });
        if (this.mode === "report-only") continue;
        out = parts.join(
          this.mode === "break-json" ? `"[REDACTED:${name}]"` : `[REDACTED:${name}]`,
        );
      }
    }
    return { text: out, hits };
  }

  private needles(value: string): Array<[string, string]> {
    return [
      ["raw", value],
      ["base64", Buffer.from(value).toString("base64")],
    ];
  }
}
