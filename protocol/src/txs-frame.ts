/**
 * The `txs` frame's compact form (protocol 5; PROTOCOL.md, "The txs frame"). Every client
 * parses every committed transaction, so at 100 clients this frame is what the server
 * writes most and what each client spends most of its time parsing. Version 4 sent each
 * transaction as an object, `{"t":…,"datoms":[[e,"block/string",v]],"author":…,"time":…}`:
 * about 108 bytes for a text edit, and four keys, two arrays and two repeated strings for
 * JSON.parse to build. Version 5 puts a frame's transactions in one flat list of numbers
 * and values, with its authors and attributes named once in two tables and t and time
 * given once: about 35 bytes for the same edit, parsed in about a fifth of the time
 * (bench/RESULTS.md, "Session 8").
 *
 * ```
 * {"type":"txs","t":536870950,"time":1764100000000,"authors":["alice","bob"],
 *  "attrs":["block/string"],"txs":[0,0,1,42,0,"milk",1,3,2,43,0,"eggs",-44,0,"old"]}
 * ```
 * Transaction i of the frame has t = `t` + i. In `txs`, each transaction is
 * `author, dt, n` (an index into `authors`, its time minus the frame's `time` in ms, its
 * datom count), followed by n datoms of three items each: `e, attr, value` (attr an index
 * into `attrs`), asserted when e > 0 and retracted (entity -e) when e < 0.
 *
 * No runtime dependencies (safe for a browser bundle).
 */
import { describe } from "./describe";
import type { TxEntry, Value } from "./frames";

/** A `txs` frame as it travels. */
export interface TxsFrame {
  type: "txs";
  /** t of the frame's first transaction; each next one is one more. */
  t: number;
  /** The first transaction's time (ms since the epoch); each transaction gives its own as an offset. */
  time: number;
  authors: string[];
  attrs: string[];
  /** Flat: per transaction `author, dt, n`, then n datoms `e, attr, value` (e < 0: retracted). */
  txs: Array<number | Value>;
}

/**
 * At most this many transactions in one frame. An encoded transaction takes at least six
 * characters, so a frame within the server's 256 KiB has fewer than 45,000; a hostile
 * frame of empty transactions could otherwise make a client build millions of objects.
 */
export const MAX_TXS_PER_FRAME = 65_536;

/**
 * Encodes transactions (oldest first, as the server committed them) as `txs` frames of
 * at most maxChars characters plus the frame's fixed fields, and at most
 * MAX_TXS_PER_FRAME transactions; one transaction larger than that gets a frame of its
 * own. A frame holds only transactions with consecutive t: a break starts a new frame.
 */
export function encodeTxsFrames(txs: readonly TxEntry[], maxChars: number): string[] {
  const frames: string[] = [];
  let first: TxEntry | undefined;
  let previousT = 0;
  let authors = new Map<string, number>();
  let attrs = new Map<string, number>();
  let parts: string[] = [];
  let size = 0;
  const flush = () => {
    if (!first) return;
    frames.push(`{"type":"txs","t":${first.t},"time":${first.time},"authors":${JSON.stringify([...authors.keys()])},"attrs":${JSON.stringify([...attrs.keys()])},"txs":[${parts.join(",")}]}`);
    first = undefined;
    authors = new Map();
    attrs = new Map();
    parts = [];
    size = 0;
  };
  for (const tx of txs) {
    const values = tx.datoms.map((d) => JSON.stringify(d[2]));
    // At most what this transaction adds, its table entries included (numbers take < 20 characters).
    let most = tx.author.length + 64;
    for (let k = 0; k < values.length; k++) most += values[k]!.length + tx.datoms[k]![1].length + 64;
    if (first && (size + most > maxChars || tx.t !== previousT + 1 || parts.length === MAX_TXS_PER_FRAME)) flush();
    first ??= tx;
    previousT = tx.t;
    let author = authors.get(tx.author);
    if (author === undefined) {
      authors.set(tx.author, (author = authors.size));
      size += JSON.stringify(tx.author).length + 1;
    }
    let part = `${author},${tx.time - first.time},${tx.datoms.length}`;
    tx.datoms.forEach((d, k) => {
      let attr = attrs.get(d[1]);
      if (attr === undefined) {
        attrs.set(d[1], (attr = attrs.size));
        size += JSON.stringify(d[1]).length + 1;
      }
      part += `,${d.length === 4 ? -d[0] : d[0]},${attr},${values[k]}`;
    });
    parts.push(part);
    size += part.length + 1;
  }
  flush();
  return frames;
}

/** Thrown for a `txs` frame whose structure is not the one above. */
export class BadTxsFrame extends Error {
  override readonly name = "BadTxsFrame";
}

function bad(what: string): never {
  throw new BadTxsFrame(`txs frame: ${what}`);
}

const isIndex = (v: unknown, length: number): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < length;

/**
 * Expands a parsed `txs` frame into its transactions. Checks the frame's structure (every
 * field, index, count and entity id) and throws BadTxsFrame when it is wrong; the values
 * and attribute names it returns are as the frame gave them, for the caller to check
 * against its schema.
 */
export function decodeTxsFrame(frame: Record<string, unknown>): TxEntry[] {
  const { t, time, authors, attrs, txs } = frame;
  if (!Number.isSafeInteger(t) || (t as number) <= 0) bad(`t is ${describe(t)}, not a positive integer`);
  if (!Number.isSafeInteger(time)) bad(`time is ${describe(time)}, not an integer`);
  if (!Array.isArray(authors) || !authors.every((a) => typeof a === "string")) bad("authors is not a list of strings");
  if (!Array.isArray(attrs) || !attrs.every((a) => typeof a === "string")) bad("attrs is not a list of strings");
  if (!Array.isArray(txs) || txs.length === 0) bad("txs is not a non-empty list");
  const out: TxEntry[] = [];
  // Built only for an error message.
  const at = (start: number) => `transaction ${out.length} (item ${start})`;
  let i = 0;
  while (i < txs.length) {
    const start = i;
    if (out.length === MAX_TXS_PER_FRAME) bad(`more than ${MAX_TXS_PER_FRAME} transactions`);
    if (txs.length - i < 3) bad(`${at(start)}: ${txs.length - i} items left, a transaction takes at least 3`);
    const author = txs[i];
    const dt = txs[i + 1];
    const n = txs[i + 2];
    if (!isIndex(author, authors.length)) bad(`${at(start)}: author ${describe(author)} is not an index into authors (${authors.length})`);
    if (!Number.isSafeInteger(dt) || !Number.isSafeInteger((time as number) + (dt as number))) bad(`${at(start)}: time offset ${describe(dt)} is not an integer`);
    if (!Number.isInteger(n) || (n as number) < 0 || (n as number) * 3 > txs.length - i - 3) bad(`${at(start)}: datom count ${describe(n)} does not fit the ${txs.length - i - 3} items left`);
    i += 3;
    const datoms: TxEntry["datoms"] = [];
    for (let d = 0; d < (n as number); d++, i += 3) {
      const e = txs[i];
      const attr = txs[i + 1];
      if (!Number.isSafeInteger(e) || e === 0) bad(`${at(start)}, datom ${d}: entity ${describe(e)} is not a non-zero integer`);
      if (!isIndex(attr, attrs.length)) bad(`${at(start)}, datom ${d}: attribute ${describe(attr)} is not an index into attrs (${attrs.length})`);
      const a = attrs[attr] as string;
      const value = txs[i + 2] as Value;
      datoms.push((e as number) > 0 ? [e as number, a, value] : [-(e as number), a, value, false]);
    }
    const txT = (t as number) + out.length;
    if (!Number.isSafeInteger(txT)) bad(`t ${txT} of ${at(start)} is past the largest integer`);
    out.push({ t: txT, datoms, author: authors[author] as string, time: (time as number) + (dt as number) });
  }
  return out;
}
