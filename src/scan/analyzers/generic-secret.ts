/**
 * The keyword detector: a literal assigned to a credential-like name whose value looks like a
 * real secret. It finds what token formats cannot: passwords and keys with no fixed shape.
 * Precision first, as in detect-secrets' keyword plugin and gitleaks' generic rule: placeholders,
 * references, env lookups, paths, URLs, identifiers, UUIDs and digests are not secrets, and a value
 * must carry some entropy unless its name says it is a password.
 *
 * The shapes it reads (each in LINE_PATTERNS or below, with examples in the tests):
 * - assignments in code and config, aligned or not: `password = "…"`, `apiKey: '…'`,
 *   `DB_PASSWORD=…`, `secret := []byte("…")`, `KEY = Buffer.from("…", "hex")`;
 * - a credential-named string argument followed by a literal: `define('DB_PASSWORD', '…')`;
 * - key=value connection strings: `Server=…;Password=…;`, `AccountKey=…;`;
 * - XML: `<password>…</password>`, `<add key="ApiKey" value="…"/>`, attributes;
 * - command-line flags: `--password=…`, `--token …` (outside code), `mysqldump -p'…'`;
 * - name/value pairs: `{"name": "X_TOKEN", "value": "…"}` and a Kubernetes/ECS env entry whose
 *   `value:` sits on the line after `- name: X_PASSWORD`.
 *
 * Works on any text (a whole file, or the added lines of a git diff). One keyword pass finds the
 * lines worth reading; returns offsets into the text it was given.
 */
import {
  execAll,
  isAlphanumeric,
  isLetter,
  isPlaceholder,
  noteJudged,
  searchOnFirstUse,
  shannonEntropy,
  type WordHits,
} from "../../detect/index.js";

export interface GenericMatch {
  ruleId: "secret/generic-password" | "secret/generic-api-key";
  /** the credential-like name the value was assigned to */
  key: string;
  /** UTF-16 offsets of the value (quotes and auth scheme excluded) in the scanned text */
  start: number;
  end: number;
  secret: string;
  severity: "high" | "medium";
}

export interface GenericOptions {
  /**
   * Whether unquoted values count. In code (`password = getPassword()`) an unquoted value is an
   * expression; in .env, YAML, .properties or INI files it is the literal itself.
   */
  unquoted: boolean;
  /**
   * Test code and fixtures: only values that look randomly generated count. Tests are full of
   * sample passwords (`"Passw0rd!"`, `"correct-horse-battery-staple"`) that guard nothing.
   */
  testCode?: boolean;
  /**
   * Where GENERIC_WORDS occur in the text (numbered by that list), when the caller already
   * searched for them in a pass of its own; searched here otherwise.
   */
  wordHits?: WordHits;
}

/** Commands whose password follows a flag (`mysql -p…`, `sshpass -p …`, `curl -u user:…`). */
const COMMAND_FLAGS = new Map([
  ["mysql", / -p/y],
  ["mariadb", / -p/y],
  ["sshpass", / -p/y],
  ["curl", / (?:-u|--user)[ \t=]/y],
  ["docker", / (?:-p|--password)[ \t=]/y],
  ["podman", / (?:-p|--password)[ \t=]/y],
  ["keytool", / -(?:src|dest)?(?:store|key)pass[ \t]/y],
  ["jarsigner", / -(?:store|key)pass[ \t]/y],
  ["redis-cli", / -a[ \t]/y],
  ["sqlcmd", / -P[ \t]/y],
  ["mongo", / (?:-p|--password)[ \t=]/y],
  ["convertto-securestring", / -AsPlainText/iy],
]);

/**
 * Words whose lines are read at all: credential words, and the commands whose flags carry a
 * password. Case-insensitive substrings (`PASSWORD`, `apiKey`, `mysqldump` contain them).
 */
export const GENERIC_WORDS: readonly string[] = [
  "pass",
  "pwd",
  "secret",
  "token",
  "key",
  "auth",
  "credential",
  ...COMMAND_FLAGS.keys(),
];
const wordSearch = searchOnFirstUse(GENERIC_WORDS);

/**
 * After a credential word: the rest of the name, then an operator (`=`, `:`, `=>`, `<-`, `>`), or
 * the closing quote of a name argument and a comma (`define('DB_PASSWORD', …`).
 */
const OPERATOR_AFTER_WORD =
  /[\w.$"'\]-]{0,40}[ \t]{0,40}(?:[:=>]|<-)|[\w.:-]{0,40}["'][ \t]{0,8},/y;
/** After a credential word in a `--flag`: the rest of the flag, a space and a value. */
const FLAG_VALUE_AFTER_WORD = /[\w-]{0,40}[ \t]{1,4}\S/y;
const DASHES_OR_NEWLINE = /--|\n/g;

const DEFINE_LINE = /[ \t]{0,8}#[ \t]{0,4}define[ \t]/y;
/** Lines longer than this are read in windows around their candidate words. */
const LONG_LINE = 2000;
/**
 * Room for a name before its credential word, and for an operator and the longest value after; a
 * word in the first half of the previous window's room is read with it.
 */
const WINDOW_BEFORE = 100;
const WINDOW_AFTER = 1200;
/** More than the longest credential word: how far a window's start can move back (wordStartsIn). */
const WORD_SLACK = 64;
/** The start of a `name: X` line. */
const NAME_BEFORE_WORD = /[ \t]*(?:-[ \t]{1,8})?["']?name["']?[ \t]*[:=]/y;
/** A `name: X` line whose value may follow on the next line (Kubernetes, ECS, Compose env lists). */
const NAME_LINE =
  /^[ \t]*(?:-[ \t]{1,8})?["']?name["']?[ \t]*[:=][ \t]*["']?(?<key>[A-Za-z_][\w.-]{0,79})["']?[ \t]*,?[ \t]*$/;
const VALUE_LINE =
  /^[ \t]*["']?value["']?[ \t]*[:=][ \t]*(?<value>"(?:[^"\\\r\n]|\\.){0,512}"|'(?:[^'\\\r\n]|\\.){0,512}'|[^\s"'#,]{1,512})[ \t]*,?[ \t]*(?:#.*)?$/d;

/** A credential word inside a name (the patterns' names must hold one: a cheap way to skip others). */
const WORD = "(?:pass|pwd|secret|token|key|auth|credential)";
/** Calls that turn a literal into bytes or a secret type: the literal is still the secret. */
const CONVERSION = String.raw`(?:\[\](?:byte|rune)|Buffer\.from|String::from|Uint8Array\.from|bytes(?:\.fromhex)?|bytearray(?:\.fromhex)?|str|String|Secret(?:Str|String|Bytes)|(?:hex|base64\.\w{1,20}Encoding)\.DecodeString|(?:urlsafe_)?b(?:64|32)decode|unhexlify|atob|Encoding\.\w{2,10}\.GetBytes|(?:new[ \t]{1,4})?TextEncoder\(\)\.encode)\(\s{0,4}`;
/** A quoted literal. */
const QUOTED = String.raw`"(?:[^"\\\r\n]|\\.){0,512}"|'(?:[^'\\\r\n]|\\.){0,512}'|\x60[^\x60\r\n$]{0,512}\x60`;
/** An unquoted value, with an optional auth scheme. */
const UNQUOTED = String.raw`(?:(?:Bearer|Basic|Token)[ \t]{1,3})?[^\s"'\x60,;)}\]<>]{1,512}`;
/** An optional conversion or string prefix (`b"…"`, `r'…'`) before a quoted literal. */
const WRAP = `(?<wrap>${CONVERSION}|[bBrRuU]{1,2}(?=["'])|@(?="))?`;

/** Cues some patterns need on a line (LinePattern.cue), as bits. */
const LineCue = {
  /** a name followed by `||`, `??`, `?:` or `or` */
  Fallback: 1,
  /** a name followed by `(`, or by `=` and `(` */
  Call: 2,
  /** `${` */
  Default: 4,
  /** `#` first on the line */
  Define: 8,
  /** `-D` */
  SystemProperty: 16,
  /** a name, spaces, then a quote (`password "…"`) */
  Dsl: 32,
} as const;

interface LinePattern {
  pattern: RegExp;
  /** substrings the line must hold (case-sensitive) for the pattern to be tried: a cheap gate */
  needs?: string | readonly string[];
  /** Command words (COMMAND_FLAGS), one of which the line must hold for the pattern to be tried. */
  commands?: readonly string[];
  /**
   * What the line must show (a LineCue, read once a line for all patterns by lineCues) for the
   * pattern to be tried at all: most candidate lines show none of these patterns' cues, and
   * trying each of them on every candidate line cost about a tenth of the detector's time.
   */
  cue?: number;
  /**
   * For an anchored pattern: which character must follow the name (past the rest of the name,
   * closing quotes and brackets, and spaces; wordNext) for the pattern to be tried there.
   */
  next?: (code: number) => boolean;
  /** the name when the pattern has no `key` group */
  key?: string;
  /** whether a value the pattern reads unquoted is a literal even in code */
  literalUnquoted?: boolean;
  /** a further check on the match */
  accept?(line: string, match: RegExpExecArray): boolean;
  /**
   * For a sticky pattern whose name must hold a credential word: where a match can start, given
   * where one such word starts in the line (pushed to `out`). The pattern is tried there only.
   */
  anchor?(line: string, wordStart: number, out: number[]): void;
}

/** Verbs that make `.checkPassword("…")` a test of a value, not the setting of one. */
const NOT_SETTER_VERBS = new Set([
  "check",
  "verify",
  "validate",
  "compare",
  "match",
  "matches",
  "hash",
  "encode",
  "decode",
  "encrypt",
  "decrypt",
  "sign",
  "get",
  "find",
  "lookup",
  "read",
  "load",
  "fetch",
  "parse",
  "generate",
  "reset",
  "revoke",
  "refresh",
  "rotate",
  "create",
  "delete",
  "remove",
  "is",
  "has",
  "mask",
  "redact",
  "log",
  "print",
  "expect",
  "assert",
  "require",
  "exchange",
  "introspect",
]);

/** `setPassword("…")`, `.password("…")`, `.withApiKey("…")`: the call sets the credential. */
function isSetterCall(_line: string, match: RegExpExecArray): boolean {
  const first = words(match.groups?.key ?? "")[0];
  return first !== undefined && !NOT_SETTER_VERBS.has(first);
}

/** A command-line value: quoted, or a word that is not another flag. */
const COMMAND_VALUE = String.raw`'[^'\r\n]{1,256}'|"[^"\r\n]{1,256}"|[^\s'"-][^\s'"]{0,255}`;

/** `f("NAME", "value")`, not an array such as `["-e", "NAME", "image@sha256:…"]`. */
function isCallArgument(line: string, match: RegExpExecArray): boolean {
  const before = line.slice(0, match.index);
  return before.lastIndexOf("(") > before.lastIndexOf("[");
}

/** `a=1;b=2`: a pair that follows a `;` or is followed by `;` and another pair. */
function inList(line: string, match: RegExpExecArray): boolean {
  const before = line.slice(0, match.index).trimEnd();
  if (before.endsWith(";")) return true;
  return /^[ \t]{0,2};[ \t]{0,4}[A-Za-z][A-Za-z0-9 ]{0,30}=/.test(
    line.slice(match.index + match[0].length),
  );
}

/** `[\w.$-]`: a character of a name in code and config (`DB_PASSWORD`, `api.key`, `$token`). */
function isNameChar(code: number): boolean {
  return isAlphanumeric(code) || code === 95 || code === 46 || code === 36 || code === 45;
}

/** `[\w.:-]`: a character of a quoted name argument (`'DB_PASSWORD'`, `"app.api-key"`). */
function isArgumentNameChar(code: number): boolean {
  return isAlphanumeric(code) || code === 95 || code === 46 || code === 58 || code === 45;
}

const isQuote = (code: number): boolean => code === 34 || code === 39;

/** Where the run of `accepts` characters that ends at `end` starts. */
function runStart(line: string, end: number, accepts: (code: number) => boolean): number {
  let start = end;
  while (start > 0 && accepts(line.charCodeAt(start - 1))) start--;
  return start;
}

/**
 * A name that holds the word starts where the run of name characters around the word starts (the
 * pattern's look-behind rules out a start inside the run), or at the quote just before it.
 */
function nameStarts(line: string, wordStart: number, out: number[]): void {
  const start = runStart(line, wordStart, isNameChar);
  if (start > 0 && isQuote(line.charCodeAt(start - 1))) out.push(start - 1);
  out.push(start);
}

/** A method name starts where the run of `[\w$]` around the word starts (after a `.`, if any). */
function identifierStarts(line: string, wordStart: number, out: number[]): void {
  out.push(runStart(line, wordStart, (code) => isAlphanumeric(code) || code === 95 || code === 36));
}

/** A quoted name argument starts at the quote before the run of `[\w.:-]` around the word. */
function quotedArgumentStarts(line: string, wordStart: number, out: number[]): void {
  const start = runStart(line, wordStart, isArgumentNameChar);
  if (start > 0 && isQuote(line.charCodeAt(start - 1))) out.push(start - 1);
}

/**
 * A pair name may hold spaces (`User ID`): it starts at any letter up to 30 characters of
 * `[A-Za-z0-9 ]` before the word that does not follow a name character.
 */
function pairNameStarts(line: string, wordStart: number, out: number[]): void {
  const isPairChar = (code: number) => code === 32 || isAlphanumeric(code);
  const first = Math.max(runStart(line, wordStart, isPairChar), wordStart - 30);
  for (let at = first; at <= wordStart; at++) {
    const code = line.charCodeAt(at);
    if (isLetter(code) && (at === 0 || !isNameChar(line.charCodeAt(at - 1)))) out.push(at);
  }
}

const LINE_PATTERNS: readonly LinePattern[] = [
  // `name` (optionally quoted), an optional type annotation, an operator (aligned with up to 40
  // spaces or tabs), then the value.
  {
    pattern: new RegExp(
      String.raw`(?<![\w.$-])(?<q>["']?)(?=[\w.$-]{0,60}?${WORD})(?<key>[A-Za-z_$][\w.$-]{0,79})\k<q>\]?(?:\??:[ \t]{0,2}[A-Za-z_][\w.<>[\]|]{0,40}[ \t]{0,2}(?==))?[ \t]{0,40}(?::=|=>|={1,3}|:(?![:-])|<-)[ \t]{0,40}${WRAP}(?<value>${QUOTED}|${UNQUOTED})`,
      "dyi",
    ),
    anchor: nameStarts,
  },
  // A credential-named string argument followed by a literal: `define('DB_PASSWORD', '…')`,
  // `buildConfigField("String", "API_KEY", "\"…\"")`, `setenv("TOKEN", "…")`.
  {
    needs: ",",
    pattern: new RegExp(
      String.raw`(?<=[(,][ \t]{0,40})(?<q>["'])(?=[\w.:-]{0,60}?${WORD})(?<key>[A-Za-z_][\w.:-]{0,79})\k<q>[ \t]{0,8},[ \t]{0,40}(?=${WRAP}(?<value>${QUOTED}))`,
      "dyi",
    ),
    anchor: quotedArgumentStarts,
    // The value is looked ahead at, not consumed: it may be the name of the next pair.
    accept: isCallArgument,
  },
  // A fallback literal for a credential-named value: `process.env.API_KEY || "…"`,
  // `ENV['API_KEY'] || '…'`, `System.getenv("API_KEY") ?: "…"`, `os.environ.get("TOKEN") or "…"`.
  {
    pattern: new RegExp(
      String.raw`(?<![\w.$-])(?<q>["']?)(?=[\w.$-]{0,60}?${WORD})(?<key>[A-Za-z_$][\w.$-]{0,79})\k<q>[\])]{0,2}[ \t]{0,4}(?:\|\||\?\?|\?:|\bor\b)[ \t]{0,4}${WRAP}(?<value>${QUOTED})`,
      "dyi",
    ),
    cue: LineCue.Fallback,
    next: (code) => code === 124 || code === 63 || code === 111, // `||`, `??` or `?:`, `or`
    anchor: nameStarts,
  },
  // A setter or builder called with a literal: `setPassword("…")`, `.apiKey("…")`, `withToken('…')`.
  {
    pattern: new RegExp(
      String.raw`(?<![\w$])(?:(?<=\.)|set_?|with_?)(?=[\w$]{0,60}?${WORD})(?<key>[A-Za-z_$][\w$]{0,79})\([ \t]{0,4}${WRAP}(?<value>${QUOTED})[ \t]{0,4}\)`,
      "dyi",
    ),
    cue: LineCue.Call,
    next: (code) => code === 40, // `(`
    anchor: identifierStarts,
    accept: isSetterCall,
  },
  // A user and a password given to an auth class or a Python `auth=` tuple: `HTTPBasicAuth("u", "…")`,
  // `new NetworkCredential("u", "…")`, `requests.get(url, auth=("u", "…"))`.
  {
    key: "password",
    pattern: new RegExp(
      String.raw`(?<![\w$])(?:(?:[\w$]{1,40}\.){0,4}[A-Z][\w$]{0,60}(?:Auth|Authentication|Credentials?)|auth[ \t]{0,2}=[ \t]{0,2})\([ \t]{0,4}(?:${QUOTED})[ \t]{0,4},[ \t]{0,4}${WRAP}(?<value>${QUOTED})[ \t]{0,4}[,)]`,
      "dy",
    ),
    cue: LineCue.Call,
    next: (code) => code === 40 || code === 61, // `(`, or `=` before `(` (`auth=(`)
    anchor: nameStarts,
  },
  // A default in shell, Compose or Spring: `${DB_PASSWORD:-…}`, `${db.password:…}`.
  {
    pattern: new RegExp(
      String.raw`\$\{(?=[\w.-]{0,60}?${WORD})(?<key>[A-Za-z_][\w.-]{0,79})(?::-|:=|:(?![?+]))(?<value>[^}\s$"'\x60]{1,256})\}`,
      "dyi",
    ),
    cue: LineCue.Default,
    anchor: (line, wordStart, out) => {
      const start = runStart(line, wordStart, isNameChar);
      if (line.startsWith("${", start - 2)) out.push(start - 2);
    },
    literalUnquoted: true,
  },
  // A Gradle or Ruby DSL line: `password "…"` inside `credentials { … }`.
  {
    pattern: new RegExp(
      String.raw`(?<=^[ \t]{0,40})(?<key>[A-Za-z_][\w.]{0,79})[ \t]{1,8}(?<value>${QUOTED})[ \t]{0,4};?[ \t]{0,4}$`,
      "dy",
    ),
    cue: LineCue.Dsl,
    next: (code) => code === 34 || code === 39,
    anchor: nameStarts,
  },
  // A C or Objective-C macro: `#define API_KEY "…"`, `#define API_KEY @"…"`.
  {
    pattern: new RegExp(
      String.raw`[ \t]{0,8}#[ \t]{0,4}define[ \t]{1,8}(?<key>[A-Za-z_]\w{0,79})[ \t]{1,40}${WRAP}(?<value>${QUOTED})`,
      "dy",
    ),
    cue: LineCue.Define,
    anchor: (_line, _wordStart, out) => {
      if (out.length === 0) out.push(0);
    },
  },
  // key=value connection strings: `Server=…;User ID=app;Password=…;`, `AccountKey=…;`. The pair
  // must sit in a `;`-separated list (see inList), which tells it from a statement in code.
  {
    needs: [";", "="],
    pattern: new RegExp(
      String.raw`(?<![\w.$-])(?=[A-Za-z0-9 ]{0,30}?${WORD})(?<key>[A-Za-z][A-Za-z0-9 ]{0,30}?)=(?<value>[^;"'\s()][^;"'\r\n()]{0,255}?)(?=[ \t]{0,2}(?:;|["']|$))`,
      "dyi",
    ),
    anchor: pairNameStarts,
    literalUnquoted: true,
    accept: inList,
  },
  // `<password>value</password>`
  {
    needs: "</",
    pattern: /<(?<key>[A-Za-z_][\w.-]{0,63})>(?<value>[^<\r\n]{1,512})<\/\k<key>>/dg,
    literalUnquoted: true,
  },
  // An element named by an attribute, the value its text: Android's
  // `<string name="api_key">…</string>`, `<property name="hibernate.connection.password">…</property>`.
  {
    needs: "</",
    pattern:
      /<(?<tag>[A-Za-z_][\w.:-]{0,63})[ \t][^<>\r\n]{0,200}?\b(?:name|key)[ \t]{0,2}=[ \t]{0,2}["'](?<key>[A-Za-z_][\w.:-]{0,79})["'][^<>\r\n]{0,200}>(?<value>[^<\r\n]{1,512})<\/\k<tag>>/dg,
    literalUnquoted: true,
  },
  // Attribute pairs: .NET appSettings `<add key="ApiKey" value="…" />`, Spring and Ant
  // `<property name="password" value="…"/>`.
  {
    needs: "alue",
    pattern:
      /\b(?:key|name)[ \t]{0,2}=[ \t]{0,2}["'](?<key>[A-Za-z_][\w.:-]{0,79})["'][ \t]{1,8}value[ \t]{0,2}=[ \t]{0,2}(?<value>"[^"\r\n]{0,512}"|'[^'\r\n]{0,512}')/dgi,
  },
  // One-line name/value pairs: `{"name": "DB_PASSWORD", "value": "…"}`, `{ name = "X", value = "…" }`.
  {
    needs: "alue",
    pattern:
      /["']?name["']?[ \t]{0,4}[:=][ \t]{0,4}["'](?<key>[A-Za-z_][\w.-]{0,79})["'][ \t]{0,4},[ \t]{0,4}["']?value["']?[ \t]{0,4}[:=][ \t]{0,4}(?<value>"(?:[^"\\\r\n]|\\.){0,512}"|'(?:[^'\\\r\n]|\\.){0,512}')/dg,
  },
  // `--password=…` (anywhere, code included: it sits inside a command string there).
  {
    needs: "--",
    pattern:
      /(?<![\w-])--(?<key>[A-Za-z][\w-]{0,40})=(?<value>'[^'\r\n]{1,256}'|"(?:[^"\\\r\n]|\\.){1,256}"|[^\s'"`;|&)]{1,256})/dg,
    literalUnquoted: true,
  },
  // Java system properties: `mvn deploy -Drepo.password=…`.
  {
    pattern:
      /(?<![\w-])-D(?<key>[A-Za-z][\w.-]{0,79})=(?<value>'[^'\r\n]{1,256}'|"(?:[^"\\\r\n]|\\.){1,256}"|[^\s'"`;|&)]{1,256})/dy,
    cue: LineCue.SystemProperty,
    anchor: (line, wordStart, out) => {
      const start = runStart(line, wordStart, isNameChar);
      if (line.startsWith("-D", start)) out.push(start);
    },
    literalUnquoted: true,
  },
  // sshpass takes the password after `-p`: `sshpass -p '…' ssh host`.
  {
    commands: ["sshpass"],
    pattern: new RegExp(
      String.raw`\bsshpass\b[^\r\n|;&]{0,100}?[ \t]-p[ \t]{0,4}(?<value>${COMMAND_VALUE})`,
      "dg",
    ),
    key: "password",
    literalUnquoted: true,
  },
  // Registry logins and database, key-store and cache clients given a password on the command
  // line: `docker login -u ci -p …`, `keytool … -storepass … -keypass …`, `redis-cli -a …`,
  // `sqlcmd -S db -U sa -P …`, `mongosh -u admin -p …`.
  {
    commands: ["docker", "podman", "keytool", "jarsigner", "redis-cli", "sqlcmd", "mongo"],
    pattern: new RegExp(
      String.raw`(?<=\b(?:(?:docker|podman)[ \t]{1,4}login|keytool|jarsigner|redis-cli|sqlcmd|mongo(?:sh|dump|restore|export|import)?)\b[^\r\n|;&]{0,300}?)[ \t](?:-p|--password|-(?:src|dest)?(?:store|key)pass|-a|-P)(?:[ \t]{1,4}|=)(?<value>${COMMAND_VALUE})`,
      "dg",
    ),
    key: "password",
    literalUnquoted: true,
  },
  // PowerShell: `ConvertTo-SecureString "…" -AsPlainText -Force`.
  {
    commands: ["convertto-securestring"],
    pattern:
      /\bConvertTo-SecureString[ \t]{1,4}(?:-String[ \t]{1,4})?(?<value>"[^"\r\n]{1,256}"|'[^'\r\n]{1,256}')[ \t]{1,4}-AsPlainText/dgi,
    key: "password",
    literalUnquoted: true,
  },
  // curl's `-u user:password` / `--user user:password`.
  {
    commands: ["curl"],
    pattern:
      /\bcurl\b[^\r\n|;&]{0,300}?[ \t](?:-u|--user)[ \t=]{1,4}(?<uq>['"]?)[^\s:'"]{1,128}:(?<value>[^\s'"]{1,128})\k<uq>(?![^\s'"])/dg,
    key: "password",
    literalUnquoted: true,
  },
  // A netrc line: `machine api.internal login bot password …`.
  {
    pattern:
      /(?<=\blogin[ \t]{1,8}(?!anonymous\b)\S{1,128}[ \t]{1,8})password[ \t]{1,8}(?<value>[^\s'"]{1,256})/dy,
    needs: "login",
    anchor: (_line, wordStart, out) => {
      out.push(wordStart);
    },
    key: "password",
    literalUnquoted: true,
  },
  // MySQL and MariaDB clients take the password glued to `-p`: `mysqldump -u backup -p'…'`.
  {
    commands: ["mysql", "mariadb"],
    pattern:
      /\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlpump|mysqlshow|mysqlslap|mariadb|mariadb-dump|mariadb-admin)\b[^\r\n|;&]{0,200}?[ \t]-p(?<value>'[^'\r\n]{1,128}'|"[^"\r\n]{1,128}"|[^\s'"-][^\s'"]{0,127})/dg,
    key: "password",
    literalUnquoted: true,
  },
];
/** Where unquoted values count, also `--token value` with a space (shell scripts, CI files, docs). */
const UNQUOTED_LINE_PATTERNS: readonly LinePattern[] = [
  ...LINE_PATTERNS,
  {
    pattern:
      /(?<![\w-])--(?<key>[A-Za-z][\w-]{0,40})[ \t]{1,4}(?<value>'[^'\r\n]{1,256}'|"(?:[^"\\\r\n]|\\.){1,256}"|[^\s'"`;|&)\\-][^\s'"`;|&)\\]{0,255})/dg,
    needs: "--",
    literalUnquoted: true,
  },
];

/** Last words that name the credential itself. */
const PASSWORD_WORDS = new Set(["password", "passwd", "pwd", "passphrase", "pass"]);
const SECRET_WORDS = new Set([
  "secret",
  "token",
  "apikey",
  "accesskey",
  "secretkey",
  "privatekey",
  "clientsecret",
  "authtoken",
  "accesstoken",
  "refreshtoken",
  "credential",
  "credentials",
  "auth",
  "authorization",
]);
/** `<qualifier>_key` is a secret key whatever its value looks like. */
const KEY_QUALIFIERS = new Set([
  "api",
  "access",
  "secret",
  "private",
  "signing",
  "encryption",
  "decryption",
  "master",
  "client",
  "app",
  "service",
  "auth",
  "admin",
  "shared",
  "hmac",
  "session",
  "jwt",
  "webhook",
  "license",
  "account",
  "storage",
]);
/**
 * `<word>_key` that names a lookup, an identifier or a public value, never a credential. Any other
 * `<word>_key` (`fernet_key`, `partnerKey`, `WANDB_KEY`) counts when its value looks random.
 */
const NOT_SECRET_KEY_QUALIFIERS = new Set([
  "public",
  "publishable",
  "sort",
  "partition",
  "cache",
  "primary",
  "foreign",
  "unique",
  "composite",
  "idempotency",
  "dedupe",
  "dedup",
  "hash",
  "routing",
  "shard",
  "row",
  "column",
  "field",
  "index",
  "lookup",
  "map",
  "hot",
  "object",
  "bucket",
  "s3",
  "query",
  "mutation",
  "state",
  "store",
  "storage",
  "redis",
  "i18n",
  "translation",
  "message",
  "label",
  "locale",
  "config",
  "setting",
  "settings",
  "option",
  "registry",
  "namespace",
  "prefix",
  "event",
  "metric",
  "item",
  "list",
  "group",
  "lock",
  "cursor",
  "react",
  "tab",
  "menu",
  "route",
  "host",
  "ssh",
  "gpg",
  "pgp",
  "verify",
  "verification",
  "signature",
  "sign",
  "fingerprint",
  "deploy",
]);
/** `<qualifier>_token` that is not a credential: pagination, CSRF, LLM token counts. */
const NOT_CREDENTIAL_TOKENS = new Set([
  "page",
  "next",
  "continuation",
  "cursor",
  "csrf",
  "xsrf",
  "sync",
  "pagination",
  "request",
  "idempotency",
  "max",
  "num",
  "input",
  "output",
  "completion",
  "prompt",
  "total",
  "cancel",
  "cancellation",
  "progress",
  // AWS-style paging and concurrency tokens (`--starting-token`, `nextForwardToken`,
  // `ChangeToken`, `PolicyUpdateToken`) and change-stream positions: opaque, not credentials.
  "starting",
  "forward",
  "backward",
  "change",
  "update",
  "resume",
  "verification",
  // AWS's `ClientToken` makes a request idempotent; Facebook's client token ships inside apps.
  "client",
]);
/** Trailing words that describe the form of the value, not what it is: `secret_key_base`. */
const FORM_WORDS = new Set([
  "value",
  "val",
  "str",
  "string",
  "raw",
  "plain",
  "plaintext",
  "b64",
  "base64",
  "hex",
  "base",
  "bytes",
  "data",
]);
/** Words that make a name point at a secret kept elsewhere (Helm's `existingSecret`). */
const REFERENCE_WORDS = new Set(["existing", "ref", "reference", "external"]);

/** `AWS_SECRET_ACCESS_KEY`, `apiKey`, `APIKey`, `db.password` → lower-case words. */
function words(name: string): string[] {
  return (name.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+/g) ?? []).map((word) => word.toLowerCase());
}

/** The words of a name, with a letter and the number after it kept as one (`S3Key` → s3, key). */
function nameWords(name: string): string[] {
  const parts = words(name);
  for (let i = parts.length - 1; i > 0; i--) {
    if (/^\d+$/.test(parts[i] as string) && (parts[i - 1] as string).length === 1)
      parts.splice(i - 1, 2, `${parts[i - 1]}${parts[i]}`);
  }
  return parts;
}

type CredentialKind = "password" | "secret" | "named-key" | undefined;
/** Names repeat (`apiKey`, `token`, `password`): their kinds are kept, up to a bound. */
const kindOfName = new Map<string, CredentialKind>();

/**
 * Which kind of credential a name holds, judged by its last meaningful word: a password, a
 * secret, or a `<word>_key` of unknown purpose ("named-key", a secret only when its value looks
 * randomly generated).
 */
export function credentialKind(name: string): CredentialKind {
  let kind = kindOfName.get(name);
  if (kind === undefined && !kindOfName.has(name)) {
    if (kindOfName.size >= 4096) kindOfName.clear();
    kind = kindFromWords(nameWords(name));
    kindOfName.set(name, kind);
  }
  return kind;
}

function kindFromWords(parts: string[]): CredentialKind {
  while (parts.length > 1 && FORM_WORDS.has(parts[parts.length - 1] as string)) parts.pop();
  const last = parts[parts.length - 1];
  const previous = parts[parts.length - 2] ?? "";
  if (last === undefined || parts.includes("public") || parts.includes("publishable"))
    return undefined;
  if (parts.some((part) => REFERENCE_WORDS.has(part))) return undefined;
  // `PGPASSWORD`, `MYSQLPASSWD`: one word that ends in the credential.
  if (PASSWORD_WORDS.has(last) || /(?:password|passwd)$/.test(last)) return "password";
  if (last === "token" && NOT_CREDENTIAL_TOKENS.has(previous)) return undefined;
  if (SECRET_WORDS.has(last)) return "secret";
  if (last === "key") {
    if (KEY_QUALIFIERS.has(previous)) return "secret";
    if (previous !== "" && !NOT_SECRET_KEY_QUALIFIERS.has(previous)) return "named-key";
  }
  return undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGEST_PREFIX = /^(?:sha\d{1,3}|md5|blake2b?)[:-]/i;
const HEX_DIGEST = /^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})$/i;
const DIGEST_CONTEXT = /sha\d|digest|checksum|hash|integrity|md5/i;
/** A comment after the value, where a digest is often named (`"…" # sha256`). */
const TRAILING_COMMENT = /^[^#]{0,8}(?:#|\/\/|--|;)/;
const URL = /^[a-z][a-z0-9+.-]{0,20}:\/\//i;
const PATH =
  /^(?:\.{0,2}\/|~\/|[A-Za-z]:\\|\\\\)|^[\w.-]{1,80}(?:[/\\][\w.-]{1,80}){0,20}\.[A-Za-z0-9]{1,6}$/;
/** `@file.pem`: curl, httpie, vault and gcloud read the value from that file. */
const FILE_REFERENCE = /^@[\w./~-]{1,256}$/;
/** References to a secret kept elsewhere: cloud secret ids, keyring and vault paths, env names. */
const REFERENCE =
  /^(?:arn:|projects\/[^/]{1,80}\/secrets\/|vault:|keyward:|keyring:|env:|file:|ssm:|secretsmanager:|azurekeyvault:)/i;
const ENV_NAME = /^[A-Z][A-Z0-9]{0,40}(?:_[A-Z0-9]{1,40}){1,10}$/;
/** `config.password`, `self.token`, `args.api_key`: an expression, not a value. */
const MEMBER_EXPRESSION = /^[A-Za-z_$][\w$]{0,60}(?:\??\.[A-Za-z_$][\w$]{0,60}){1,8}(?:\(\))?$/;
/**
 * A lower-case identifier or resource name: `client_secret`, `search-es-credentials`,
 * `orders.api.key`. Names of things, not secrets (a generated secret mixes in case or digits).
 */
const IDENTIFIER = /^[a-z]{1,40}(?:[._-][a-z]{1,40}){1,12}$/;
/** `overEvery`, `stubTrue`: a camel-case identifier of letters only names code, not a secret. */
const CAMEL_CASE = /^[a-z]{2,40}(?:[A-Z][a-z]{1,40}){1,12}$/;
/** `anonymous@domain.org`: an e-mail address (anonymous FTP's password) names a person. */
const EMAIL = /^[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}$/;
/** `www.python.org:080`, `api.internal`: a host name (and port) names a server, not a secret. */
const HOST_NAME = /^[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,8}\.[a-z]{2,12}(?::\d{1,5})?$/;
/**
 * Values that say they are not real: `not-the-password`, `circle_test`, `fake-token-1`,
 * `wrong_password`. Whole words only, so `latest` or `contest` do not count.
 */
const NOT_REAL =
  /(?:^|[^a-z])(?:test|tests|testing|fake|dummy|mock|mocked|stub|fixture|not|wrong|invalid|bad|incorrect|bogus|fixme|todo|anonymous)(?:$|[^a-z])/i;

function charClasses(value: string): number {
  return [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z\d]/].filter((re) => re.test(value)).length;
}

/**
 * Mixes enough kinds of characters, long and varied enough, to have been generated. Hex has only
 * 16 symbols, so its floor is lower (detect-secrets uses 3.0 for hex, as here).
 */
export function looksRandom(value: string, entropy = shannonEntropy(value)): boolean {
  if (IDENTIFIER.test(value)) return false;
  const digits = /\d/.test(value);
  if (/^[0-9a-f]{32,}$/i.test(value)) return entropy >= 3 && digits && /[a-f]/i.test(value);
  if (entropy < 3.5 || averageWordLength(value) >= 5) return false;
  // Generated values of this length mix digits in; `io.example/related-task` does not.
  return (value.length >= 16 && charClasses(value) >= 3) || (value.length >= 32 && digits);
}

/**
 * A generated value breaks into many one- and two-letter fragments at case and digit changes
 * (`G3bR7dSpaIOIt…`); an identifier or a phrase into words (`ClientCapabilities2026Schema`).
 */
function averageWordLength(value: string): number {
  const parts = words(value);
  return parts.length === 0 ? 0 : parts.reduce((sum, part) => sum + part.length, 0) / parts.length;
}

/** Spelled from words and short numbers: `SuperSecretToken`, `my-secret-password-1`. */
function isSpelledFromWords(value: string): boolean {
  const parts = words(value);
  return (
    parts.length > 0 &&
    parts.every((part) => (/^[a-z]+$/.test(part) ? part.length >= 2 : part.length <= 4))
  );
}

/** Words that make a value a sample when it is spelled from words: `SuperSecretToken`. */
const SAMPLE_WORDS = /password|passwd|secret|token|apikey|credential/i;
/** Look-alike characters people type for letters: `pa$$w0rd`, `P@ssw0rd`. */
const LEET: Record<string, string> = {
  "0": "o",
  "1": "i",
  "3": "e",
  "4": "a",
  "5": "s",
  "7": "t",
  $: "s",
  "@": "a",
};

/**
 * A value spelled from words, one of them a credential word (`SuperSecretToken`,
 * `my-secret-password-1`), or the word password in disguise (`pa$$word`, `Passw0rd!`):
 * documentation and tests, not a generated or chosen secret.
 */
function isSampleValue(value: string): boolean {
  if (SAMPLE_WORDS.test(value) && isSpelledFromWords(value)) return true;
  const plain = value.replace(/[013457$@]/g, (char) => LEET[char] ?? char);
  // `topS3cr3tP4$$w0rd` reads `topSecretPassword`
  if (plain !== value && SAMPLE_WORDS.test(plain) && isSpelledFromWords(plain)) return true;
  return /^[^a-z]{0,4}(?:password|passwd|secret)[^a-z]{0,6}$/i.test(plain);
}

/**
 * `X_AWS_EC2_METADATA_TOKEN = "x-aws-ec2-metadata-token"`: a value spelled from the words of its
 * own name is a header, field or setting name. Letters and numbers on their own are left out.
 */
function namesItself(key: string, value: string): boolean {
  const keyWords = new Set(nameWords(key));
  const valueWords = nameWords(value).filter((word) => word.length > 1);
  return valueWords.length > 0 && valueWords.every((word) => keyWords.has(word));
}

/**
 * `AWSAccessKeyId`, `S3AccessPointAttachments`: letters of both cases (and digits) that split into
 * words at case changes, three or more of them real-looking (three letters or more, with a vowel),
 * no more than one stray letter, 3.5 letters a word on average. Names a thing in code. Checked on
 * random values: 0.3% of 16-character base62 strings pass, 0.01% of 40-character ones.
 */
function readsAsWords(value: string): boolean {
  if (!/^[A-Za-z0-9]+$/.test(value) || !/[A-Z]/.test(value) || !/[a-z]/.test(value)) return false;
  const parts = words(value).filter((part) => !/^\d+$/.test(part));
  let letters = 0;
  let long = 0;
  let single = 0;
  for (const part of parts) {
    letters += part.length;
    if (part.length === 1) single++;
    else if (part.length >= 3) {
      if (!/[aeiouy]/.test(part)) return false;
      long++;
    }
  }
  return long >= 3 && single <= 1 && letters >= parts.length * 3.5;
}

/** Base64 of printable text (`Basic dXNlcjpzM2NyM3Q=`), decoded; undefined for anything else. */
function decodedText(value: string): string | undefined {
  if (value.length < 12 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value))
    return undefined;
  const text = Buffer.from(value, "base64")
    .toString("latin1")
    .replace(/\r?\n$/, "");
  return /^[\x20-\x7e]+$/.test(text) ? text : undefined;
}

/**
 * Decoded text that says it is a sample: `isaacs:not my real password` in a README's `_auth`.
 * For `user:password`, the password is judged.
 */
function isSampleText(text: string | undefined): boolean {
  if (text === undefined) return false;
  const password = text.slice(text.indexOf(":") + 1);
  return [text, password].some(
    (part) => isPlaceholder(part) || NOT_REAL.test(part) || isSampleValue(part),
  );
}

/** `eyJhbGciOiJS...`: an elided value in documentation. */
const ELIDED = /\.{3}|…/;
/**
 * `(?i)token\s*=`, `.*secret`, `[A-Za-z0-9/_+=.@-]{1,512}`: a pattern describing secrets (scanner
 * configs, docs, JSON schemas). A character range in brackets or a counted repeat: a generated
 * secret holds neither `[a-z` nor `{1,64}`.
 */
const REGEX_SYNTAX =
  /\(\?[:=!<imsx]|\.\*|\\[dswb]|\[\^?[^\]\s]{0,40}(?:a-z|A-Z|0-9)|\{\d{1,4},\d{0,4}\}/;

/** Does the literal look like a real credential for this kind of name? Returns its severity. */
function judge(
  kind: "password" | "secret" | "named-key",
  key: string,
  value: string,
  after: string,
  options: GenericOptions,
): "high" | "medium" | undefined {
  noteJudged(value);
  if (value.length < 8 || value.length > 512) return undefined;
  if (isPlaceholder(value) || /\s/.test(value) || NOT_REAL.test(value) || isSampleValue(value))
    return undefined;
  if (ELIDED.test(value) || REGEX_SYNTAX.test(value)) return undefined;
  if (URL.test(value) || PATH.test(value) || FILE_REFERENCE.test(value)) return undefined;
  if (REFERENCE.test(value) || UUID.test(value) || CAMEL_CASE.test(value)) return undefined;
  if (HOST_NAME.test(value) || EMAIL.test(value) || namesItself(key, value)) return undefined;
  if (isSampleText(decodedText(value))) return undefined;
  // An identifier can be a (weak) password, but under any other name it names a thing.
  if (kind !== "password" && (IDENTIFIER.test(value) || readsAsWords(value))) return undefined;
  if (ENV_NAME.test(value) || MEMBER_EXPRESSION.test(value) || /^[\d.,:+-]+$/.test(value))
    return undefined;
  if (DIGEST_PREFIX.test(value)) return undefined;
  if (
    HEX_DIGEST.test(value) &&
    (DIGEST_CONTEXT.test(key) || (TRAILING_COMMENT.test(after) && DIGEST_CONTEXT.test(after)))
  )
    return undefined;
  const entropy = shannonEntropy(value);
  const strong = entropy >= 3.5 && value.length >= 16;
  if ((kind === "named-key" || options.testCode) && !looksRandom(value, entropy)) return undefined;
  if (kind === "password") {
    // A hard-coded password is a finding even when weak (`hunter2hunter2`), but a lone word
    // (`production`) is more often a setting or an example than a password.
    if (charClasses(value) < 2 && entropy < 3.5) return undefined;
    return strong ? "high" : "medium";
  }
  if (entropy < 3 || charClasses(value) < 2) return undefined;
  // A key or token is generated, never spelled from words (`?NonExpressionParenKeyword`).
  if (isSpelledFromWords(value) && averageWordLength(value) >= 4) return undefined;
  return strong ? "high" : "medium";
}

/**
 * The value inside its quotes, without an auth scheme or escaped inner quotes (`"\"…\""` in a
 * Gradle build field): offsets relative to the value group.
 */
function unwrap(raw: string): { value: string; offset: number; quoted: boolean } {
  let value = raw;
  let offset = 0;
  const first = raw[0];
  const quoted =
    (first === '"' || first === "'" || first === "`") && raw.length >= 2 && raw.endsWith(first);
  if (quoted) {
    value = raw.slice(1, -1);
    offset = 1;
    const inner = /^\\(["'])(.*)\\\1$/.exec(value);
    if (inner !== null) {
      value = inner[2] as string;
      offset += 2;
    }
  }
  const scheme = /^(?:bearer|basic|token)\s{1,3}/i.exec(value);
  if (scheme !== null) {
    value = value.slice(scheme[0].length);
    offset += scheme[0].length;
  }
  return { value, offset, quoted };
}

function ruleFor(kind: "password" | "secret" | "named-key"): GenericMatch["ruleId"] {
  return kind === "password" ? "secret/generic-password" : "secret/generic-api-key";
}

/**
 * Judges `value` as the whole literal held by the name `key` (a decoded Kubernetes Secret value):
 * a match spanning the value, or undefined.
 */
export function judgeValue(
  key: string,
  value: string,
  options: GenericOptions,
): GenericMatch | undefined {
  const kind = credentialKind(key);
  const severity = kind === undefined ? undefined : judge(kind, key, value, "", options);
  if (kind === undefined || severity === undefined) return undefined;
  return { ruleId: ruleFor(kind), key, start: 0, end: value.length, secret: value, severity };
}

/**
 * `badge.svg?token=…`: a query parameter of an image URL is fetched by every reader's browser, so
 * it is public by design (README badges).
 */
function isImageQuery(line: string, valueStart: number, key: string): boolean {
  const keyStart = line.lastIndexOf(key, valueStart);
  const separator = line[keyStart - 1];
  if (separator !== "?" && separator !== "&") return false;
  return /\.(?:svg|png|gif|jpe?g|webp)\?(?:[^\s?#]{0,200}&)?$/i.test(
    line.slice(Math.max(0, keyStart - 400), keyStart),
  );
}

/** Judges one candidate (a name and the raw value at `valueStart` in `line`) and records it. */
function consider(
  key: string,
  raw: string,
  valueStart: number,
  line: string,
  lineStart: number,
  literalUnquoted: boolean,
  options: GenericOptions,
  out: GenericMatch[],
): void {
  const kind = credentialKind(key);
  if (kind === undefined || isImageQuery(line, valueStart, key)) return;
  const { value, offset, quoted } = unwrap(raw);
  if (!quoted && !literalUnquoted) {
    if (!options.unquoted) return;
    // `credentials('sonar-token')`, `value[4:-6]`: a call or an index, not a literal.
    if (/^[\w.$]{1,80}[([]/.test(raw)) return;
  }
  const after = line.slice(valueStart + raw.length);
  const severity = judge(kind, key, value, after, options);
  if (severity === undefined) return;
  const start = lineStart + valueStart + offset;
  out.push({
    ruleId: ruleFor(kind),
    key,
    start,
    end: start + value.length,
    secret: value,
    severity,
  });
}

function holdsAll(line: string, needs: string | readonly string[]): boolean {
  return typeof needs === "string" ? line.includes(needs) : needs.every((s) => line.includes(s));
}

/** Judges one match of a line pattern. */
function considerMatch(
  { key: fixedKey, literalUnquoted = false, accept }: LinePattern,
  match: RegExpExecArray,
  line: string,
  lineStart: number,
  options: GenericOptions,
  out: GenericMatch[],
): void {
  if (accept !== undefined && !accept(line, match)) return;
  const key = match.groups?.key ?? fixedKey;
  const raw = match.groups?.value;
  const span = match.indices?.groups?.value;
  if (key === undefined || raw === undefined || span === undefined) return;
  // A conversion wrapper (`[]byte(…)`) only ever wraps a literal.
  if (match.groups?.wrap !== undefined && !/^["'`]/.test(raw)) return;
  consider(key, raw, span[0], line, lineStart, literalUnquoted, options, out);
}

function isAscending(numbers: readonly number[]): boolean {
  for (let i = 1; i < numbers.length; i++)
    if ((numbers[i] as number) < (numbers[i - 1] as number)) return false;
  return true;
}

/** Reused by findGenericSecrets and matchLine: the current line's words, its commands, and its anchors. */
const wordStarts: number[] = [];
const lineCommands: string[] = [];
/** For each of wordStarts, the character after its name (LinePattern.next); filled by lineCues. */
const wordNext: number[] = [];

/**
 * Where a name that holds a word ends: past the rest of the name, closing quotes and brackets
 * (`API_KEY"]`, `getenv("API_KEY")`), at most `limit` characters on.
 */
function pastName(text: string, from: number, limit: number): number {
  let at = from;
  let code = text.charCodeAt(at);
  while (at - from < limit && (isNameChar(code) || isQuote(code) || code === 93 || code === 41))
    code = text.charCodeAt(++at);
  return at;
}

/** Past spaces and tabs from `from`. */
function pastSpaces(text: string, from: number): number {
  let at = from;
  while (text.charCodeAt(at) === 32 || text.charCodeAt(at) === 9) at++;
  return at;
}

/**
 * The line's cues (LineCue bits), and wordNext: for each word, past the rest of its name,
 * closing quotes and brackets (`API_KEY"]`) and spaces, the next character.
 */
function lineCues(line: string, starts: readonly number[]): number {
  wordNext.length = 0;
  let cues = 0;
  for (const start of starts) {
    const nameEnd = pastName(line, start, line.length);
    const at = pastSpaces(line, nameEnd);
    const code = line.charCodeAt(at);
    wordNext.push(code);
    if (isQuote(code) && at > nameEnd) cues |= LineCue.Dsl;
    else if (code === 124 || code === 63 || code === 111) cues |= LineCue.Fallback;
    else if (code === 40) cues |= LineCue.Call;
    else if (code === 61 && line.charCodeAt(pastSpaces(line, at + 1)) === 40) cues |= LineCue.Call;
  }
  if (line.includes("${")) cues |= LineCue.Default;
  if (line.includes("-D")) cues |= LineCue.SystemProperty;
  DEFINE_LINE.lastIndex = 0;
  if (line.includes("#") && DEFINE_LINE.test(line)) cues |= LineCue.Define;
  return cues;
}
const anchorStarts: number[] = [];

/**
 * Runs the line patterns over `line`. `wordStarts` are where the credential words start in it:
 * a pattern whose name must hold one is tried only where such a name can start, not at every
 * offset (its look-ahead for the word made that the largest part of the detector's time on code).
 */
function matchLine(
  line: string,
  lineStart: number,
  wordStarts: readonly number[],
  options: GenericOptions,
  out: GenericMatch[],
): void {
  const patterns = options.unquoted ? UNQUOTED_LINE_PATTERNS : LINE_PATTERNS;
  const cues = lineCues(line, wordStarts);
  for (const linePattern of patterns) {
    const { pattern, needs, anchor, commands, cue, next } = linePattern;
    if (cue !== undefined && (cues & cue) === 0) continue;
    if (commands !== undefined && !commands.some((word) => lineCommands.includes(word))) continue;
    if (needs !== undefined && !holdsAll(line, needs)) continue;
    if (anchor === undefined) {
      for (const match of execAll(pattern, line))
        considerMatch(linePattern, match, line, lineStart, options, out);
      continue;
    }
    anchorStarts.length = 0;
    for (let i = 0; i < wordStarts.length; i++) {
      if (next === undefined || next(wordNext[i] as number))
        anchor(line, wordStarts[i] as number, anchorStarts);
    }
    // Usually in order already (words come in order of their end); sorting copies the array.
    if (!isAscending(anchorStarts)) anchorStarts.sort((a, b) => a - b);
    // As a global search would: each start after the end of the last match, each start once.
    let searchedTo = 0;
    for (const start of anchorStarts) {
      if (start < searchedTo) continue;
      pattern.lastIndex = start;
      const match = pattern.exec(line);
      searchedTo = match === null ? start + 1 : start + match[0].length;
      if (match !== null) considerMatch(linePattern, match, line, lineStart, options, out);
    }
  }
}

/** `- name: DB_PASSWORD` with `value: …` on one of the next two lines. */
function matchNameValueLines(
  text: string,
  line: string,
  lineEnd: number,
  options: GenericOptions,
  out: GenericMatch[],
): void {
  if (!line.includes("name")) return;
  const key = NAME_LINE.exec(line)?.groups?.key;
  if (key === undefined || credentialKind(key) === undefined) return;
  let start = lineEnd + 1;
  for (let i = 0; i < 2 && start < text.length; i++) {
    const newline = text.indexOf("\n", start);
    const end = newline === -1 ? text.length : newline;
    const next = text.slice(start, end).replace(/\r$/, "");
    const value = VALUE_LINE.exec(next);
    const raw = value?.groups?.value;
    const span = value?.indices?.groups?.value;
    if (raw !== undefined && span !== undefined) {
      // A YAML or JSON value is the literal itself, quoted or not.
      consider(key, raw, span[0], next, start, true, options, out);
      return;
    }
    start = end + 1;
  }
}

/**
 * After a credential word, the rest of the name, then a call with a literal (`setPassword("…")`,
 * `HTTPBasicAuth("user", "…")`, `new NetworkCredential("user", "…")`), a fallback
 * (`process.env.API_KEY || "…"`, `getenv("API_KEY") ?: "…"`), a netrc or DSL value
 * (`password …`, `password "…"`), or the name is an XML attribute's value
 * (`name="password" value="…"`, `<string name="api_key" translatable="false">`). Read by hand: as alternatives of OPERATOR_AFTER_WORD they doubled its cost on
 * the many words that are followed by none of them.
 */
function isCallOrFallbackAfter(text: string, wordEnd: number): boolean {
  const name = pastName(text, wordEnd, 40);
  const at = pastSpaces(text, name);
  const code = text.charCodeAt(at);
  if (code === 40) {
    // a call: `(`, spaces, then a literal or `new X(`
    if (at !== name) return false;
    const argument = pastSpaces(text, at + 1);
    const first = text.charCodeAt(argument);
    return isQuote(first) || first === 64 || first === 96 || text.startsWith("new ", argument);
  }
  // `<property name="password" value="…"/>`; a DSL's `password "…"`
  if (code === 118 && text.startsWith("value", at)) return true;
  if (isQuote(code) && at > name) return true;
  // `<string name="api_key" translatable="false">…`: the name is an attribute's value
  if (at > name && isQuote(text.charCodeAt(name - 1))) {
    let start = wordEnd;
    while (isArgumentNameChar(text.charCodeAt(start - 1))) start--;
    if (isQuote(text.charCodeAt(start - 1)) && text.charCodeAt(start - 2) === 61) return true;
  }
  const following = text.charCodeAt(at + 1);
  if (code === 124) return following === 124; // ||
  if (code === 63) return following === 63 || following === 58; // ?? ?:
  if (code === 111) return following === 114 && text.charCodeAt(at + 2) === 32; // or
  // netrc: `password value` (the name ended at the space before the value)
  return at > name && text.startsWith("word", wordEnd) && code > 32;
}

/**
 * Letters that may follow a credential word within one word of a name and still leave a
 * credential (`password`, `authorization`, `credentials`: credentialKind). Any others
 * (`author`, `tokenize`, `keys`, `passed`, `secrets`) make a word that names none.
 */
const CONTINUATIONS = new Map<string, readonly string[]>([
  ["pass", ["word", "wd", "phrase"]],
  ["secret", ["key"]],
  ["auth", ["token", "orization"]],
  ["credential", ["s"]],
]);

/** CONTINUATIONS and COMMAND_FLAGS by word number (hits number the words): no lookup by name per hit. */
const WORD_CONTINUATIONS = GENERIC_WORDS.map((word) => CONTINUATIONS.get(word) ?? []);
const WORD_FLAGS = GENERIC_WORDS.map((word) => COMMAND_FLAGS.get(word));

/**
 * Does the word run on, in the same case, into a longer word that names no credential? Many word
 * hits in code and docs are such (`author` in every package.json); skipping their lines saved
 * about a tenth of the detector's time on node_modules.
 */
function continuesIntoOtherWord(text: string, index: number, wordEnd: number): boolean {
  const next = text.charCodeAt(wordEnd);
  if (!isLetter(next) || (WORD_FLAGS[index] as RegExp | undefined) !== undefined) return false;
  // A change of case starts a new word: `keyCode`, `APIKey`.
  if (next >= 97 !== text.charCodeAt(wordEnd - 1) >= 97) return false;
  for (const tail of WORD_CONTINUATIONS[index] as readonly string[]) {
    let at = 0;
    while (at < tail.length && (text.charCodeAt(wordEnd + at) | 32) === tail.charCodeAt(at)) at++;
    if (at === tail.length) return false;
  }
  return true;
}

const KEY_WORD = GENERIC_WORDS.indexOf("key");

/**
 * `key` alone (`{ key: value }`, `key={i}`, `(key) =>`): a name that is only the word names no
 * credential (credentialKind wants `api_key`, `secretKey`…), and JavaScript is full of it.
 */
function isBareKey(text: string, index: number, wordStart: number, wordEnd: number): boolean {
  return (
    index === KEY_WORD &&
    !isNameChar(text.charCodeAt(wordStart - 1)) &&
    !isNameChar(text.charCodeAt(wordEnd))
  );
}

/**
 * Is the line around a word occurrence worth running the patterns on? `lineDashes` is where the
 * line's first `--` is (-1 when it has none).
 */
function isCandidate(
  text: string,
  index: number,
  lineStart: number,
  wordStart: number,
  wordEnd: number,
  lineEnd: number,
  lineDashes: number,
): boolean {
  if (continuesIntoOtherWord(text, index, wordEnd) || isBareKey(text, index, wordStart, wordEnd))
    return false;
  const flag = WORD_FLAGS[index];
  if (flag !== undefined) {
    for (
      let at = text.indexOf(" -", wordEnd);
      at !== -1 && at < lineEnd;
      at = text.indexOf(" -", at + 2)
    ) {
      flag.lastIndex = at;
      if (flag.test(text)) return true;
    }
    return false;
  }
  OPERATOR_AFTER_WORD.lastIndex = wordEnd;
  if (OPERATOR_AFTER_WORD.test(text) || isCallOrFallbackAfter(text, wordEnd)) return true;
  // `#define API_KEY "…"`
  let first = lineStart;
  while (text.charCodeAt(first) === 32 || text.charCodeAt(first) === 9) first++;
  if (text.charCodeAt(first) === 35) {
    DEFINE_LINE.lastIndex = lineStart;
    if (DEFINE_LINE.test(text)) return true;
  }
  if (lineDashes !== -1 && lineDashes < wordStart) {
    FLAG_VALUE_AFTER_WORD.lastIndex = wordEnd;
    if (FLAG_VALUE_AFTER_WORD.test(text)) return true;
  }
  // The name of a name/value pair, its value on a later line.
  NAME_BEFORE_WORD.lastIndex = lineStart;
  return wordStart - lineStart < 200 && NAME_BEFORE_WORD.test(text);
}

/** Credential-like assignments in `text`, in order of position. */
export function findGenericSecrets(text: string, options: GenericOptions): GenericMatch[] {
  const out: GenericMatch[] = [];
  // Hits come in order, so the current line is tracked rather than searched for per hit (a
  // minified line can hold thousands of them).
  let lineStart = 0;
  let lineEnd = -1;
  let lineDone = false;
  let lineDashes = -1;
  let windowEnd = -1;
  /**
   * the first hit that can start in the current window: a minified line's windows come in order,
   * and reading its hits from the line's first for each of them was quadratic in the hits
   */
  let windowHits = 0;
  const hits = options.wordHits ?? wordSearch().hits(text);
  /** Where the credential words in text[from, to) start, relative to `from`. */
  const wordStartsIn = (from: number, to: number): number[] => {
    wordStarts.length = 0;
    lineCommands.length = 0;
    // A window starts before the last one by less than a word's length at most (windows follow
    // word starts, hits word ends): hits ending well before this window's start stay behind.
    while (windowHits < hits.length && (hits[windowHits + 1] as number) < from - WORD_SLACK)
      windowHits += 2;
    for (let at = windowHits; at < hits.length && (hits[at + 1] as number) <= to; at += 2) {
      const word = GENERIC_WORDS[hits[at] as number] as string;
      const start = (hits[at + 1] as number) - word.length;
      if (start < from) continue;
      if (COMMAND_FLAGS.has(word)) lineCommands.push(word);
      else wordStarts.push(start - from);
    }
    return wordStarts;
  };
  for (let at = 0; at < hits.length; at += 2) {
    const index = hits[at] as number;
    const wordEnd = hits[at + 1] as number;
    if (wordEnd > lineEnd) {
      windowHits = at;
      lineStart = text.lastIndexOf("\n", wordEnd - 1) + 1;
      const newline = text.indexOf("\n", wordEnd);
      lineEnd = newline === -1 ? text.length : newline;
      lineDone = false;
      windowEnd = -1;
      DASHES_OR_NEWLINE.lastIndex = lineStart;
      const dashes = DASHES_OR_NEWLINE.exec(text);
      lineDashes = dashes?.[0] === "--" ? dashes.index : -1;
    }
    if (lineDone || wordEnd <= windowEnd - WINDOW_AFTER / 2) continue;
    const word = GENERIC_WORDS[index] as string;
    const wordStart = wordEnd - word.length;
    if (!isCandidate(text, index, lineStart, wordStart, wordEnd, lineEnd, lineDashes)) continue;
    if (lineEnd - lineStart <= LONG_LINE) {
      lineDone = true;
      const line = text.slice(lineStart, lineEnd);
      matchLine(line, lineStart, wordStartsIn(lineStart, lineEnd), options, out);
      matchNameValueLines(text, line, lineEnd, options, out);
    } else {
      // A minified or generated line: the patterns read a window around each candidate word
      // (room for the name before it and the longest value after it), not the whole line again.
      const start = Math.max(lineStart, wordStart - WINDOW_BEFORE);
      windowEnd = Math.min(lineEnd, wordEnd + WINDOW_AFTER);
      matchLine(text.slice(start, windowEnd), start, wordStartsIn(start, windowEnd), options, out);
    }
  }
  out.sort((a, b) => a.start - b.start || b.end - a.end);
  return out.filter((match, i) => i === 0 || out[i - 1]?.start !== match.start);
}
