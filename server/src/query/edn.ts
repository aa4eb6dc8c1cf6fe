/**
 * A small, bounded EDN reader and a canonical printer for Datalog queries.
 *
 * The reader accepts only the subset a query needs: lists, vectors, maps, symbols,
 * keywords, strings, integers, floats, true/false/nil. Everything else EDN (or
 * cljs.reader) knows is refused: tagged literals (#js, #inst, #"re", sets), metadata (^),
 * quote/syntax-quote/deref, characters (\a). Symbols and keywords are plain ASCII, so a
 * Unicode look-alike of an allowed name never reads as that name.
 *
 * The printer writes a tree back as ASCII-only EDN that cljs.reader reads to the same
 * values; it is what datascript actually receives (see ./validate.ts).
 */

export type Edn =
  | { readonly k: "sym"; readonly name: string }
  | { readonly k: "kw"; readonly name: string }
  | { readonly k: "str"; readonly value: string }
  | { readonly k: "num"; readonly value: number }
  | { readonly k: "bool"; readonly value: boolean }
  | { readonly k: "nil" }
  | { readonly k: "list"; readonly items: readonly Edn[] }
  | { readonly k: "vec"; readonly items: readonly Edn[] }
  | { readonly k: "map"; readonly entries: ReadonlyArray<readonly [Edn, Edn]> };

export interface ReadLimits {
  /** Deepest nesting of lists, vectors and maps. */
  readonly maxDepth: number;
  /** Most forms in the whole text (every symbol, literal and collection counts). */
  readonly maxForms: number;
}

export class EdnError extends Error {
  override readonly name = "EdnError";
}

/** Characters a symbol or keyword may hold (EDN's set, ASCII only). */
const SYMBOL_CHAR = /[A-Za-z0-9.*+!\-_?$%=<>/]/;
const NUMBER = /^[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;
const DELIMITER = /[\s,()[\]{}";]/;

/** Reads exactly one form from text; anything after it except whitespace is an error. */
export function readEdn(text: string, limits: ReadLimits): Edn {
  let pos = 0;
  let forms = 0;

  const fail = (message: string): never => {
    throw new EdnError(`${message} at offset ${pos}`);
  };

  const skip = (): void => {
    while (pos < text.length) {
      const c = text[pos]!;
      if (c === ";") {
        while (pos < text.length && text[pos] !== "\n") pos++;
      } else if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === ",") {
        pos++;
      } else {
        return;
      }
    }
  };

  const describe = (c: string): string => {
    const code = c.codePointAt(0)!;
    return code >= 0x20 && code < 0x7f ? `"${c}"` : `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  };

  const readString = (): Edn => {
    pos++; // opening quote
    let out = "";
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text[pos++]!;
      if (c === '"') return { k: "str", value: out };
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = text[pos++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "n":
          out += "\n";
          break;
        case "t":
          out += "\t";
          break;
        case "r":
          out += "\r";
          break;
        case "u": {
          const hex = text.slice(pos, pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape in string");
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          fail(`unsupported escape \\${e ?? ""} in string`);
      }
    }
  };

  const readAtom = (): Edn => {
    const start = pos;
    while (pos < text.length && !DELIMITER.test(text[pos]!)) {
      if (!SYMBOL_CHAR.test(text[pos]!) && text[pos] !== ":") fail(`character ${describe(text[pos]!)} is not allowed outside strings`);
      pos++;
    }
    const token = text.slice(start, pos);
    if (/^[-+]?[0-9]/.test(token)) {
      if (!NUMBER.test(token)) fail(`bad number "${token}"`);
      const value = Number(token);
      if (!Number.isFinite(value)) fail(`number "${token}" is out of range`);
      if (!/[.eE]/.test(token) && !Number.isSafeInteger(value)) fail(`integer "${token}" is beyond 2^53`);
      return { k: "num", value };
    }
    if (token.startsWith(":")) {
      const name = token.slice(1);
      if (!/^[A-Za-z*+!\-_?$%=<>.][A-Za-z0-9.*+!\-_?$%=<>/]*$/.test(name) || name.endsWith("/") || name.includes("::")) fail(`bad keyword "${token}"`);
      return { k: "kw", name };
    }
    if (token.includes(":")) fail(`bad symbol "${token}"`);
    if (token === "true" || token === "false") return { k: "bool", value: token === "true" };
    if (token === "nil") return { k: "nil" };
    // A namespace separator only between two non-empty parts ("/" alone is division).
    if (token !== "/" && (token.startsWith("/") || token.endsWith("/") || token.split("/").length > 2)) fail(`bad symbol "${token}"`);
    return { k: "sym", name: token };
  };

  const readSeq = (close: string, depth: number): Edn[] => {
    pos++; // opening bracket
    const items: Edn[] = [];
    for (;;) {
      skip();
      if (pos >= text.length) fail(`missing "${close}"`);
      if (text[pos] === close) {
        pos++;
        return items;
      }
      items.push(read(depth + 1));
    }
  };

  const read = (depth: number): Edn => {
    skip();
    if (pos >= text.length) fail("unexpected end of query");
    if (++forms > limits.maxForms) fail(`more than ${limits.maxForms} forms`);
    const c = text[pos]!;
    if (c === "(" || c === "[" || c === "{") {
      if (depth >= limits.maxDepth) fail(`nested deeper than ${limits.maxDepth}`);
      if (c === "(") return { k: "list", items: readSeq(")", depth) };
      if (c === "[") return { k: "vec", items: readSeq("]", depth) };
      const items = readSeq("}", depth);
      if (items.length % 2 !== 0) fail("a map needs an even number of forms");
      const entries: Array<[Edn, Edn]> = [];
      for (let i = 0; i < items.length; i += 2) entries.push([items[i]!, items[i + 1]!]);
      return { k: "map", entries };
    }
    if (c === '"') return readString();
    if (c === ")" || c === "]" || c === "}") fail(`unexpected "${c}"`);
    if (!SYMBOL_CHAR.test(c) && c !== ":") fail(`character ${describe(c)} is not allowed outside strings`);
    return readAtom();
  };

  const form = read(0);
  skip();
  if (pos < text.length) fail("unexpected text after the query");
  return form;
}

function printString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x0d) out += "\\r";
    else if (c < 0x20 || c >= 0x7f) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += s[i];
  }
  return `${out}"`;
}

/** Canonical, ASCII-only EDN for a tree (one space between forms). */
export function printEdn(form: Edn): string {
  switch (form.k) {
    case "sym":
      return form.name;
    case "kw":
      return `:${form.name}`;
    case "str":
      return printString(form.value);
    case "num":
      return String(form.value);
    case "bool":
      return String(form.value);
    case "nil":
      return "nil";
    case "list":
      return `(${form.items.map(printEdn).join(" ")})`;
    case "vec":
      return `[${form.items.map(printEdn).join(" ")}]`;
    case "map":
      return `{${form.entries.map(([k, v]) => `${printEdn(k)} ${printEdn(v)}`).join(" ")}}`;
  }
}

/** A form as a short string for error messages. */
export function showEdn(form: Edn, max = 120): string {
  const text = printEdn(form);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
