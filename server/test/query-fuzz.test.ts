import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { Client, exited, prng, spawnServer, tmpDir } from "./helpers";
import { escapeTable } from "./query-attacks";

const CASES = 10_000;
const SEED = 0x5eed9;

const VALID: Array<[string, unknown[]]> = [
  ['[:find ?s :in $ ?u :where [?e "block/uid" ?u] [?e "block/string" ?s]]', ["u1"]],
  ['[:find ?e ?o :where [?e "block/order" ?o] [(> ?o 3)] [(< ?o 20)]]', []],
  ['[:find [?u ...] :where [?e "block/uid" ?u] [(clojure.string/starts-with? ?u "u1")]]', []],
  ['[:find (count ?e) . :where [?e "block/uid"]]', []],
  ['[:find (pull ?e ["block/uid" {"block/children" ...}]) :where [?e "block/uid" "u0"]]', []],
  ['[:find ?p ?c :in $ % :where (child ?p ?c)]', ['[[(child ?p ?c) [?p "block/children" ?c]] [(child ?p ?c) [?p "block/children" ?x] (child ?x ?c)]]']],
  ['[:find ?e :where [?e "block/uid"] (not [?e "block/order" 0])]', []],
  ['[:find ?e :where (or [?e "block/order" 1] [?e "block/order" 2])]', []],
  ['[:find ?s :where [?e "block/string" ?s] [(re-pattern "^s[0-9]+$") ?re] [(re-find ?re ?s)]]', []],
  ['[:find ?e ?v :where [?e "block/uid"] [(get-else $ ?e "block/heading" 0) ?v]]', []],
  ['[:find ?x ?y :in $ [[?x ?y]] :where [(+ ?x ?y) ?z] [(str ?x "-" ?z) ?w]]', [[[1, 2], [3, 4]]]],
  ['{:find [?e] :in [$ [?u ...]] :where [[?e "block/uid" ?u]]}', [["u1", "u2"]]],
  ['[:find (max ?o) (min ?o) (sum ?o) :where [_ "block/order" ?o]]', []],
];

/** Tokens a mutation may splice in: syntax, disallowed built-ins, interop, look-alikes. */
const TOKENS = [
  "(", ")", "[", "]", "{", "}", '"', "#", "^", "'", "`", "~", "@", "\\", ":", ";", ",", "...", ".", "_", "$", "%", "?x", "?F", "$x",
  "type", "identity", "complement", "meta", "get", "js/eval", "js/Function", ".call", ".-constructor", "cljs.core/type", "aggregate",
  "pull", "ground", "str", "re-pattern", "re-find", "count", "not", "or-join", "not-join", "and", ":xform", ":find", ":in", ":where",
  "#js", "#inst", "#?", "#=", "#\"a\"", "t\u0443pe", "\uff47round", "type\u200d", "\u00a0", "1e999", "9007199254740993", "-0.5",
  '"constructor"', "nil", "true", "[(type ?x) ?F]", "[(?F \"return 1\") ?g]", "(?F ?x)", "(r ?x)",
];

function mutate(rand: () => number, text: string, corpus: readonly string[]): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  let out = text;
  const steps = 1 + Math.floor(rand() * 4);
  for (let s = 0; s < steps; s++) {
    const at = Math.floor(rand() * (out.length + 1));
    const len = Math.floor(rand() * 12);
    switch (Math.floor(rand() * 7)) {
      case 0: // delete a span
        out = out.slice(0, at) + out.slice(at + len);
        break;
      case 1: // insert a token
        out = `${out.slice(0, at)} ${pick(TOKENS)} ${out.slice(at)}`;
        break;
      case 2: // replace a whitespace-separated token with a token or a piece of another query
        {
          const parts = out.split(" ");
          const i = Math.floor(rand() * parts.length);
          parts[i] = rand() < 0.5 ? pick(TOKENS) : pick(pick(corpus).split(" "));
          out = parts.join(" ");
        }
        break;
      case 3: // duplicate a span
        out = out.slice(0, at) + out.slice(at, at + len) + out.slice(at);
        break;
      case 4: // a random character, often outside ASCII
        out = out.slice(0, at) + String.fromCharCode(rand() < 0.7 ? 32 + Math.floor(rand() * 95) : Math.floor(rand() * 0x3000)) + out.slice(at);
        break;
      case 5: // splice two queries together
        {
          const other = pick(corpus);
          out = out.slice(0, at) + other.slice(Math.floor(rand() * other.length));
        }
        break;
      default: // deep nesting
        out = out.slice(0, at) + "[".repeat(Math.floor(rand() * 40)) + out.slice(at);
    }
  }
  return out;
}

/** Error codes PROTOCOL.md documents, read from its table, so "documented" means written down. */
function documentedCodes(): Set<string> {
  const doc = fs.readFileSync(path.join(__dirname, "..", "..", "protocol", "PROTOCOL.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Error codes"));
  return new Set([...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!));
}

function healthz(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: "/healthz" }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject);
  });
}

describe("query fuzz (issue 9.1)", () => {
  test(`${CASES} random and mutated queries: the server stays up, every reply is documented, no canary`, async () => {
    const canaryDir = tmpDir("sync-fuzz-canary-");
    const escapes = escapeTable(canaryDir);
    const corpus = [...VALID.map(([q]) => q), ...escapes.map(([, q]) => q)];
    const documented = documentedCodes();
    expect(documented).toEqual(expect.objectContaining({ size: expect.any(Number) }));
    expect(documented.has("bad_query")).toBe(true);

    const { child, port } = await spawnServer(tmpDir(), { SYNC_RATE_LIMIT: "1000000", SYNC_QUERY_TIMEOUT: "300ms" });
    const client = await Client.connect(`ws://127.0.0.1:${port}/ws`, "fuzzer");
    try {
      await client.transact("seed", [
        ...Array.from({ length: 30 }, (_, i) => ({ ":db/id": -(i + 1), "block/uid": `u${i}`, "block/string": `s${i}`, "block/order": i })),
        ...Array.from({ length: 29 }, (_, i) => [":db/add", -(i + 1), "block/children", -(i + 2)]),
      ]);
      const rand = prng(SEED);
      const counts: Record<string, number> = {};
      const started = Date.now();
      for (let i = 0; i < CASES; i++) {
        const fromEscapes = rand() < 0.4;
        const [query, args] = fromEscapes ? (() => { const [, q, a] = escapes[Math.floor(rand() * escapes.length)]!; return [q, a ?? []] as const; })() : VALID[Math.floor(rand() * VALID.length)]!;
        const text = rand() < 0.05 ? query : mutate(rand, query, corpus);
        const id = `f${i}`;
        // Keep the recorded frames small: only frames after this send are searched.
        if (client.messages.length > 100) client.messages.splice(0, client.messages.length);
        const from = client.messages.length;
        // Cap the frame at the protocol's query size so most cases reach the query path.
        client.send({ type: "q", id, query: text.slice(0, 16_384) || " ", args });
        const reply = await client.next((m) => m.id === id, 10_000, from);
        const key = reply.type === "result" ? "result" : `${reply.type}:${reply.code}`;
        counts[key] = (counts[key] ?? 0) + 1;
        if (reply.type !== "result" && !(reply.type === "error" && documented.has(reply.code))) {
          throw new Error(`case ${i}: undocumented reply ${JSON.stringify(reply)} to ${JSON.stringify(text)}`);
        }
      }
      console.log(`fuzz: ${CASES} cases in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);
      expect(fs.readdirSync(canaryDir)).toEqual([]);
      expect(child.exitCode).toBeNull();
      expect(await healthz(port)).toBe(200);
      client.send({ type: "q", id: "after", query: VALID[3]![0], args: [] });
      expect(await client.next((m) => m.id === "after")).toEqual({ type: "result", id: "after", rows: 30 });
      expect(counts.result).toBeGreaterThan(100);
    } finally {
      await client.close();
      child.kill("SIGTERM");
      await exited(child);
    }
  }, 180_000);
});
