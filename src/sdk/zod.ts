import * as z from "zod";
import { isKeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import { scanText, shannonEntropy } from "../detect/index.js";
import { identifyAll } from "../providers/registry.js";
import { type SecretHandle, type SecretOptions, secret } from "./secret.js";

const PUT_IT_IN_KEYWARD =
  "put the key in keyward (keyward secret set <name>) and reference it here by name";

/**
 * A config field naming a secret (`"github/pat"`), resolved to its SecretHandle. A literal
 * credential in the config is refused ("put the key in keyward, reference it by name"), and
 * neither the issue nor the error quotes it. The resolution is asynchronous: parse with
 * `parseAsync`.
 *
 * ```ts
 * const Config = z.object({ githubToken: zSecret({ env: "GITHUB_TOKEN" }) });
 * const config = await Config.parseAsync({ githubToken: "github/pat" });
 * config.githubToken.value();
 * ```
 */
export function zSecret(opts: SecretOptions = {}): z.ZodType<SecretHandle, string> {
  return z
    .string()
    .superRefine((text, ctx) => {
      const why = credentialShape(text);
      if (why !== undefined) {
        ctx.addIssue({
          code: "custom",
          message: `this is ${why}, not a secret name: ${PUT_IT_IN_KEYWARD}`,
        });
        return;
      }
      try {
        parseSecretName(text);
      } catch {
        // parseSecretName's own message quotes the text: say what a name looks like instead.
        ctx.addIssue({
          code: "custom",
          message:
            "not a secret name: use slash-separated segments of letters, digits and . _ @ + = - (for example github/pat)",
        });
      }
    })
    .transform(async (name, ctx) => {
      try {
        return await secret(name, opts);
      } catch (e) {
        if (!isKeywardError(e)) throw e;
        ctx.addIssue({ code: "custom", message: e.fix ? `${e.message}; ${e.fix}` : e.message });
        return z.NEVER;
      }
    });
}

/**
 * Why a config string looks like a credential rather than a name, if it does: a known token
 * format (src/detect, src/providers), or a long random-looking segment. Names are words joined by
 * `/ - . _`; a 20+ character run of letters and digits with no separator and the entropy of
 * random text is a key (a name made that way would also be refused, which costs a rename).
 * Hex carries at most 4 bits a character, so one in twenty random 40-character hex keys falls
 * under 3.5 bits: hex is held to 3.0, which no random 40-hex key in 200,000 fell under.
 */
function credentialShape(text: string): string | undefined {
  const token = scanText(text)[0];
  if (token !== undefined) return `a credential (${token.ruleId})`;
  const identified = identifyAll(text)[0];
  if (identified !== undefined) return `a ${identified.provider} credential`;
  const randomLooking = text
    .split("/")
    .some(
      (segment) =>
        segment.length >= 20 &&
        !/[-._@]/.test(segment) &&
        /[0-9]/.test(segment) &&
        /[A-Za-z]/.test(segment) &&
        shannonEntropy(segment) >= (/^[0-9a-fA-F]+$/.test(segment) ? 3.0 : 3.5),
    );
  return randomLooking ? "a random-looking value (a credential?)" : undefined;
}
