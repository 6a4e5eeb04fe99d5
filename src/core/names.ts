import { KeywardError } from "./errors.js";

export const MAX_SECRET_NAME_LENGTH = 200;

// Path-like names (`github/prod-token`) are allowed because they map onto Vault paths,
// AWS and GCP secret ids; anything that could escape a path or confuse a terminal is not.
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._@+=-]*$/;

/**
 * Validates a secret name and returns it unchanged.
 * Rules: 1–200 characters; `/`-separated segments of letters, digits and `._@+=-`, each
 * starting with a letter or digit; no `..`, no leading or trailing `/`, no empty segment,
 * no control characters or whitespace.
 */
export function parseSecretName(name: string): string {
  const fail = (why: string): never => {
    throw new KeywardError(
      "invalid_name",
      `invalid secret name ${JSON.stringify(printable(name))}: ${why}`,
      "use slash-separated segments of letters, digits and . _ - (for example github/prod-token)",
    );
  };
  if (name.length === 0) fail("it is empty");
  if (name.length > MAX_SECRET_NAME_LENGTH) {
    fail(`it is ${name.length} characters long, the limit is ${MAX_SECRET_NAME_LENGTH}`);
  }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) fail("it contains a control character");
  if (/\s/.test(name)) fail("it contains white space");
  if (name.startsWith("/")) fail("it is an absolute path");
  if (name.endsWith("/")) fail("it ends with /");
  for (const segment of name.split("/")) {
    if (segment === "") fail("it has an empty segment (//)");
    if (segment === "." || segment === "..") fail(`it has a "${segment}" segment`);
    if (!SEGMENT.test(segment)) {
      fail(`segment ${JSON.stringify(segment)} has a character outside letters, digits and ._@+=-`);
    }
  }
  return name;
}

/** A form of user input that is safe to echo in an error (control characters escaped, capped). */
function printable(s: string): string {
  const capped = s.length > 60 ? `${s.slice(0, 60)}…` : s;
  return capped.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
