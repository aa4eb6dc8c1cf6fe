/**
 * Protocol 5's compact `txs` frame (protocol/src/txs-frame.ts): what the server encodes
 * decodes to the same transactions, frames stay within their size, and the decoder
 * refuses every structural lie a hostile server can tell with a BadTxsFrame that says
 * which, before the client applies anything.
 */
import { BadTxsFrame, decodeTxsFrame, encodeTxsFrames, MAX_TXS_PER_FRAME } from "../../protocol/src/txs-frame";
import type { TxEntry, Value } from "../../protocol/src/frames";
import { prng } from "./harness";

const T = 536870913;
const ATTRS = ["block/string", "block/order", "block/refs", "node/title", "block/open"];

function randomTxs(rand: () => number, count: number): TxEntry[] {
  const time0 = 1764100000000 + Math.floor(rand() * 1e6);
  return Array.from({ length: count }, (_, i) => {
    const datoms = Array.from({ length: Math.floor(rand() * 4) }, () => {
      const a = ATTRS[Math.floor(rand() * ATTRS.length)]!;
      const v: Value = a === "block/string" || a === "node/title" ? ["plain", 'q"uote\\', "\u2028 line", "😀 emoji", ""][Math.floor(rand() * 5)]! : a === "block/open" ? rand() < 0.5 : Math.floor(rand() * 1000) + 1;
      const e = Math.floor(rand() * 2 ** 31) + 1;
      return rand() < 0.3 ? ([e, a, v, false] as [number, string, Value, false]) : ([e, a, v] as [number, string, Value]);
    });
    // Times mostly rise, but a clock stepped back gives a negative offset.
    return { t: T + i, datoms, author: ["alice", "bob", "ü 😀 carol", 'e"ve'][Math.floor(rand() * 4)]!, time: time0 + Math.floor((rand() - 0.1) * 50) };
  });
}

const decodeAll = (frames: string[]) => frames.flatMap((f) => decodeTxsFrame(JSON.parse(f) as Record<string, unknown>));

describe("encode, then decode", () => {
  test("gives back every transaction (400 random runs of up to 60 transactions)", () => {
    const rand = prng(5);
    for (let run = 0; run < 400; run++) {
      const txs = randomTxs(rand, 1 + Math.floor(rand() * 60));
      expect(decodeAll(encodeTxsFrames(txs, 256 * 1024))).toEqual(txs);
    }
  });

  test("splits into frames of at most the limit (plus the frame's own fields), in order; a transaction over the limit has one of its own", () => {
    const txs = randomTxs(prng(9), 3000);
    txs[1500] = { ...txs[1500]!, datoms: [[7, "block/string", "x".repeat(50_000)]] };
    const frames = encodeTxsFrames(txs, 10_000);
    expect(frames.length).toBeGreaterThan(10);
    const big = frames.filter((f) => f.length > 10_000 + 200);
    expect(big).toHaveLength(1);
    expect(decodeTxsFrame(JSON.parse(big[0]!) as Record<string, unknown>)).toHaveLength(1);
    expect(decodeAll(frames)).toEqual(txs);
  });

  test("an author that JSON escapes at six times its length still keeps frames within the limit", () => {
    const author = "\u0001".repeat(300);
    const txs = Array.from({ length: 400 }, (_, i): TxEntry => ({ t: T + i, datoms: [[1, "block/order", i]], author: `${author}${i}`, time: 0 }));
    const frames = encodeTxsFrames(txs, 10_000);
    for (const f of frames) expect(f.length).toBeLessThan(10_000 + 2_000);
    expect(decodeAll(frames)).toEqual(txs);
  });

  test(`no frame holds more than ${MAX_TXS_PER_FRAME} transactions, however small they are`, () => {
    const txs = Array.from({ length: MAX_TXS_PER_FRAME + 10 }, (_, i): TxEntry => ({ t: T + i, datoms: [], author: "a", time: 0 }));
    const frames = encodeTxsFrames(txs, 10 * 1024 * 1024);
    expect(frames.map((f) => decodeTxsFrame(JSON.parse(f) as Record<string, unknown>).length)).toEqual([MAX_TXS_PER_FRAME, 10]);
  });

  test("an edit of a block's text is about a third of protocol 4's bytes", () => {
    const txs = Array.from({ length: 100 }, (_, i): TxEntry => ({ t: T + i, datoms: [[100 + (i % 16), "block/string", `${i % 16}.${1000 + i}.56789.123;`]], author: `bench${i % 16}`, time: 1764100000000 + (i >> 4) }));
    const [frame] = encodeTxsFrames(txs, 256 * 1024);
    const v4 = JSON.stringify({ type: "txs", txs });
    expect(frame!.length / 100).toBeLessThan(40);
    expect(frame!.length).toBeLessThan(v4.length / 2.5);
  });
});

describe("a frame a server should never send: BadTxsFrame, naming what is wrong", () => {
  const good = { type: "txs", t: T, time: 5, authors: ["bob"], attrs: ["node/title"], txs: [0, 0, 1, 3, 0, "x"] };
  test("the good frame decodes", () => {
    expect(decodeTxsFrame(good)).toEqual([{ t: T, time: 5, author: "bob", datoms: [[3, "node/title", "x"]] }]);
    expect(decodeTxsFrame({ ...good, txs: [0, -7, 1, -3, 0, "x", 0, 2, 0] })).toEqual([
      { t: T, time: -2, author: "bob", datoms: [[3, "node/title", "x", false]] },
      { t: T + 1, time: 7, author: "bob", datoms: [] },
    ]);
  });
  test.each<[string, Record<string, unknown>, RegExp]>([
    ["t missing", { ...good, t: undefined }, /t is missing/],
    ["t negative", { ...good, t: -1 }, /t is number -1/],
    ["t fractional", { ...good, t: 1.5 }, /t is number 1.5/],
    ["time a string", { ...good, time: "5" }, /time is "5", not an integer/],
    ["time past the largest integer", { ...good, time: 2 ** 60 }, /time is/],
    ["authors not a list", { ...good, authors: "bob" }, /authors/],
    ["an author that is not a string", { ...good, authors: [null] }, /authors/],
    ["attrs holding a number", { ...good, attrs: [1] }, /attrs/],
    ["txs empty", { ...good, txs: [] }, /non-empty list/],
    ["txs an object", { ...good, txs: { 0: 0 } }, /non-empty list/],
    ["two items left", { ...good, txs: [0, 0, 1, 3, 0, "x", 0, 0] }, /transaction 1 \(item 6\): 2 items left/],
    ["an author index past the table", { ...good, txs: [1, 0, 1, 3, 0, "x"] }, /author number 1 is not an index into authors \(1\)/],
    ["an author index that is a string", { ...good, txs: ["0", 0, 1, 3, 0, "x"] }, /author "0" is not an index/],
    ["a time offset that is not an integer", { ...good, txs: [0, 0.5, 1, 3, 0, "x"] }, /time offset number 0.5/],
    ["a time offset past the largest time", { ...good, time: Number.MAX_SAFE_INTEGER, txs: [0, 1, 1, 3, 0, "x"] }, /time offset number 1/],
    ["a datom count past the end", { ...good, txs: [0, 0, 2, 3, 0, "x"] }, /datom count number 2 does not fit the 3 items left/],
    ["a huge datom count", { ...good, txs: [0, 0, 2 ** 40, 3, 0, "x"] }, /datom count/],
    ["a negative datom count", { ...good, txs: [0, 0, -1, 3, 0, "x"] }, /datom count number -1/],
    ["entity 0", { ...good, txs: [0, 0, 1, 0, 0, "x"] }, /entity number 0 is not a non-zero integer/],
    ["entity -0", { ...good, txs: [0, 0, 1, -0, 0, "x"] }, /entity number 0 is not/],
    ["an entity that is a string", { ...good, txs: [0, 0, 1, "3", 0, "x"] }, /entity "3" is not/],
    ["an unsafe entity", { ...good, txs: [0, 0, 1, 2 ** 60, 0, "x"] }, /entity/],
    ["an attribute index past the table", { ...good, txs: [0, 0, 1, 3, 1, "x"] }, /attribute number 1 is not an index into attrs \(1\)/],
    ["an attribute index that is the name", { ...good, txs: [0, 0, 1, 3, "node/title", "x"] }, /attribute "node\/title" is not an index/],
    ["t an object with its own toString", { ...good, t: { toString: 0, valueOf: 0 } }, /t is an object/],
    ["an item that is an object with its own toString", { ...good, txs: [0, 0, 1, { toString: 0, valueOf: 0 }, 0, "x"] }, /entity an object is not/],
    ["an author index that is a list", { ...good, txs: [[0], 0, 1, 3, 0, "x"] }, /author a list is not an index/],
    [`more than ${MAX_TXS_PER_FRAME} transactions (empty ones: 3 items each)`, { ...good, txs: new Array((MAX_TXS_PER_FRAME + 1) * 3).fill(0) }, /more than 65536 transactions/],
    ["t of a later transaction past the largest integer", { ...good, t: Number.MAX_SAFE_INTEGER, txs: [0, 0, 0, 0, 0, 0] }, /past the largest integer/],
  ])("%s", (_, frame, message) => {
    expect(() => decodeTxsFrame(frame)).toThrow(BadTxsFrame);
    expect(() => decodeTxsFrame(frame)).toThrow(message);
  });
});
