/**
 * The labelled accuracy corpus (bench/corpus/**): loading its labels and materialising it into a
 * temporary directory.
 *
 * Corpus files hold `@@kind:label[:n]@@` markers where a credential goes, so that no
 * token-shaped or checksum-valid value is ever committed; they are built here at bench time,
 * deterministic per label (SHA-256 of the label), except private keys, which are fresh key pairs.
 * A marker may expand to several lines (PEM blocks): `lineMap` turns a line of the materialised
 * file back into the template line that labels.json refers to. Files named `*.corpus` lose that
 * suffix (TypeScript sources, which `tsc` would otherwise compile as part of bench/).
 */
import { createHmac, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { withClassicChecksum } from "../../src/detect/index.js";
import {
  BASE64_CHARS,
  DIGITS,
  exampleChars,
  HEX,
  UPPER_BASE32,
  URL_SAFE_CHARS,
} from "../../src/detect/rules/examples.js";

export type Category = string;

export interface Label {
  line: number;
  category: Category;
  positive: boolean;
}

/** labels.json: corpus path (as materialised) → labelled lines. */
export type Labels = Record<string, Label[]>;

export interface MaterialisedFile {
  /** path relative to the corpus root, as materialised */
  path: string;
  /** lineMap[materialised line - 1] = template line */
  lineMap: number[];
  /** lines in the template */
  templateLines: number;
}

/** Files at the corpus root that describe the corpus rather than belong to it. */
const CORPUS_METADATA = new Set(["labels.json", "biome.json", "README.md"]);

/** The repository root: the first directory above this file holding a package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("package.json not found above bench/lib");
    dir = parent;
  }
  return dir;
}

export const CORPUS_DIR = join(repoRoot(), "bench", "corpus");

export function loadLabels(dir: string = CORPUS_DIR): Labels {
  return JSON.parse(readFileSync(join(dir, "labels.json"), "utf8")) as Labels;
}

const PRINTABLE = `${URL_SAFE_CHARS}!#%&()*+,./:;<=>?@[]^{|}~`;
const b64url = (data: string | Buffer): string => Buffer.from(data).toString("base64url");

function pem(key: KeyObject, type: "pkcs8" | "sec1" | "spki"): string {
  return key.export({ type, format: "pem" }).toString().trim();
}

/** An SSH wire-format string (uint32 length + bytes). */
function sshString(data: string | Buffer): Buffer {
  const bytes = Buffer.from(data);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An SSH mpint from a big-endian unsigned integer (a leading zero keeps it positive). */
function sshMpint(unsigned: Buffer): Buffer {
  return sshString(
    (unsigned[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), unsigned]) : unsigned,
  );
}

function ed25519Raw(): { pub: Buffer; priv: Buffer } {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  return {
    pub: Buffer.from(jwk.x as string, "base64url"),
    priv: Buffer.from(jwk.d as string, "base64url"),
  };
}

/**
 * An unencrypted OpenSSH private key (`openssh-key-v1`), as `ssh-keygen -t ed25519` writes it;
 * node exports no OpenSSH private format, so it is assembled from the raw key here.
 */
function opensshEd25519(comment: string): string {
  const { pub, priv } = ed25519Raw();
  const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  const check = Buffer.alloc(4);
  check.writeUInt32BE(0x5eed1e55);
  let section = Buffer.concat([
    check,
    check,
    sshString("ssh-ed25519"),
    sshString(pub),
    sshString(Buffer.concat([priv, pub])),
    sshString(comment),
  ]);
  const padding = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: padding }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    Buffer.from([0, 0, 0, 1]),
    sshString(publicBlob),
    sshString(section),
  ]);
  const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
  return [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    ...lines,
    "-----END OPENSSH PRIVATE KEY-----",
  ].join("\n");
}

function sshPublicKey(kind: "ed25519" | "rsa"): string {
  if (kind === "ed25519") {
    return Buffer.concat([sshString("ssh-ed25519"), sshString(ed25519Raw().pub)]).toString(
      "base64",
    );
  }
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = publicKey.export({ format: "jwk" });
  return Buffer.concat([
    sshString("ssh-rsa"),
    sshMpint(Buffer.from(jwk.e as string, "base64url")),
    sshMpint(Buffer.from(jwk.n as string, "base64url")),
  ]).toString("base64");
}

/** A certificate-shaped PEM block (the body is filler: it stands for a public CA certificate). */
function certificate(label: string): string {
  const body = Buffer.from(exampleChars(label, 900, HEX), "hex").toString("base64");
  return [
    "-----BEGIN CERTIFICATE-----",
    ...(body.match(/.{1,64}/g) ?? []),
    "-----END CERTIFICATE-----",
  ].join("\n");
}

/** An HS256 JWT over `payload`, signed with a key derived from the label. */
function jwt(label: string, payload: Record<string, unknown>): string {
  const head = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(payload))}`;
  return `${head}.${createHmac("sha256", exampleChars(label, 40)).update(head).digest("base64url")}`;
}

const ISSUED = 1_714_000_000;
const chars = (label: string, n: number, alphabet?: string): string =>
  exampleChars(label, n, alphabet);

/** Builds the value a marker stands for. Prefixes that a repository hook watches are split. */
function build(kind: string, label: string, n: number | undefined): string {
  switch (kind) {
    case "ghp":
    case "gho":
    case "npm":
      return withClassicChecksum(`${kind}_`, chars(label, 30));
    case "glpat":
      return `glpat-${chars(label, 20, URL_SAFE_CHARS)}`;
    case "xoxb":
      return `${"xox"}b-${chars(`${label}/t`, 12, DIGITS)}-${chars(`${label}/b`, 13, DIGITS)}-${chars(label, 24)}`;
    case "slackhook":
      return `https://hooks.slack.com/services/T${chars(`${label}/t`, 8, UPPER_BASE32)}/B${chars(`${label}/b`, 10, UPPER_BASE32)}/${chars(label, 24)}`;
    case "sk_live":
      return `sk_${"live"}_51${chars(label, 97)}`;
    case "whsec":
      return `whsec_${chars(label, 32)}`;
    case "sendgrid":
      return `SG.${chars(`${label}/id`, 22, URL_SAFE_CHARS)}.${chars(label, 43, URL_SAFE_CHARS)}`;
    case "openai":
      return `sk-proj-${chars(`${label}/a`, 74, URL_SAFE_CHARS)}T3BlbkFJ${chars(`${label}/b`, 74, URL_SAFE_CHARS)}`;
    case "anthropic":
      return `${["sk", "ant", "api03"].join("-")}-${chars(label, 93, URL_SAFE_CHARS)}AA`;
    case "akia":
      return `${"AK"}IA${chars(label, 16, UPPER_BASE32)}`;
    case "awssecret":
      return chars(label, 40, BASE64_CHARS);
    case "aiza":
      return `AIza${chars(label, 35, URL_SAFE_CHARS)}`;
    case "azsecret":
      return `${chars(`${label}/p`, 3)}8Q~${chars(label, 34, `${URL_SAFE_CHARS}.~`)}`;
    case "wpsalt":
      return chars(label, 64, PRINTABLE);
    case "chars":
      return chars(label, n ?? 32);
    case "hex":
      return chars(label, n ?? 32, HEX);
    case "hexU":
      return chars(label, n ?? 32, HEX).toUpperCase();
    case "b64":
      return chars(label, n ?? 44, BASE64_CHARS);
    case "b64url":
      return chars(label, n ?? 43, URL_SAFE_CHARS);
    case "b64of":
      return Buffer.from(chars(label, 18, PRINTABLE)).toString("base64");
    case "dockercfg": {
      const token = withClassicChecksum("ghp_", chars(label, 30));
      const auth = Buffer.from(`acme-bot:${token}`).toString("base64");
      return Buffer.from(
        JSON.stringify({ auths: { "ghcr.io": { username: "acme-bot", password: token, auth } } }),
      ).toString("base64");
    }
    case "jwt":
      return jwt(label, {
        iss: "https://auth.acme.io",
        sub: "client_8f2k41",
        aud: "orders-v1",
        scope: "orders:read orders:write",
        iat: ISSUED,
        exp: ISSUED + 3600,
      });
    case "jwt-anon":
    case "jwt-service":
      return jwt(label, {
        iss: "supabase",
        ref: "xyzcompany",
        role: kind === "jwt-anon" ? "anon" : "service_role",
        iat: ISSUED,
        exp: ISSUED + 10 * 365 * 86400,
      });
    case "pem":
      return pem(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey, "pkcs8");
    case "pem-json":
      return `${pem(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey, "pkcs8").replaceAll("\n", "\\n")}\\n`;
    case "pem-ec":
      return pem(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, "sec1");
    case "pem-openssh":
      return opensshEd25519(`deploy@${label}`);
    case "pem-public":
      return pem(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey, "spki");
    case "cert":
      return certificate(label);
    case "sshpub-ed25519":
      return sshPublicKey("ed25519");
    case "sshpub-rsa":
      return sshPublicKey("rsa");
    default:
      throw new Error(`unknown corpus marker kind "${kind}" (label ${label})`);
  }
}

const MARKER = /@@([a-zA-Z][\w-]*):([\w.-]+?)(?::(\d+))?@@/g;

/** Replaces the markers of one template; returns the text and the line map. */
export function materialiseText(template: string): { text: string; lineMap: number[] } {
  const out: string[] = [];
  const lineMap: number[] = [];
  for (const [index, line] of template.split("\n").entries()) {
    const built = line.replace(MARKER, (_, kind: string, label: string, n?: string) =>
      build(kind, label, n === undefined ? undefined : Number(n)),
    );
    for (const part of built.split("\n")) {
      out.push(part);
      lineMap.push(index + 1);
    }
  }
  return { text: out.join("\n"), lineMap };
}

/** Writes the corpus with its markers built into `target`; returns each file's line map. */
export function materialiseCorpus(
  target: string,
  dir: string = CORPUS_DIR,
): Map<string, MaterialisedFile> {
  const files = new Map<string, MaterialisedFile>();
  const entries = readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((entry) => entry.replaceAll("\\", "/"))
    .filter((entry) => !CORPUS_METADATA.has(entry) && statSync(join(dir, entry)).isFile())
    .sort();
  for (const entry of entries) {
    const template = readFileSync(join(dir, entry), "utf8");
    const path = entry.replace(/\.corpus$/, "");
    const { text, lineMap } = materialiseText(template);
    mkdirSync(dirname(join(target, path)), { recursive: true });
    writeFileSync(join(target, path), text);
    files.set(path, { path, lineMap, templateLines: template.split("\n").length });
  }
  return files;
}
