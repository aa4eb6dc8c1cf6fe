import path from "node:path";

/**
 * Attempts to run code through a `q` frame. Each payload really tries to create a
 * canary file; each must get `bad_query` and the canary must not exist. The first row
 * (the chain from issue 9, with `:in $` so the old server accepted its inputs) created
 * its canary on the code before the allowlist.
 */

export type Row = [label: string, query: string, args?: unknown[]];

/** The escape attempts; each payload creates a file in canaryDir if it ever runs. */
export function escapeTable(canaryDir: string): Row[] {
  const canary = (name: string) => path.join(canaryDir, name);
  /** JS that creates the canary file when anything evaluates it. */
  const payload = (name: string) => `process.getBuiltinModule('fs').writeFileSync('${canary(name)}', 'pwned')`;
  /** The same payload as an EDN string literal. */
  const ednString = (name: string) => JSON.stringify(payload(name));
  const rules = (text: string) => text;
  return [
  ["type chain to Function (issue 9)", `[:find ?out :in $ :where [(ground 1) ?x] [(type ?x) ?t] [(type ?t) ?F] [(?F ${ednString("type-chain")}) ?g] [(?g) ?out]]`],
  ["type chain without :in", `[:find ?out :where [(ground 1) ?x] [(type ?x) ?t] [(type ?t) ?F] [(?F ${ednString("type-chain-2")}) ?g] [(?g) ?out]]`],
  ["type chain through identity", `[:find ?o :in $ :where [(ground 1) ?x] [(type ?x) ?t] [(identity ?t) ?u] [(type ?u) ?F] [(?F ${ednString("identity")}) ?g] [(?g) ?o]]`],
  ["type chain as a predicate", `[:find ?x :in $ :where [(ground 1) ?x] [(type ?x) ?t] [(type ?t) ?F] [(?F ${ednString("pred")}) ?g] [(?g)]]`],
  ["complement of a host function", `[:find ?o :in $ :where [(ground 1) ?x] [(type ?x) ?t] [(type ?t) ?F] [(complement ?F) ?c] [(?c ${ednString("complement")}) ?o]]`],
  ["meta of a value", `[:find ?m :in $ :where [(ground 1) ?x] [(meta ?x) ?m]]`],
  ["variable head bound through :in", `[:find ?r :in $ ?f :where [(?f ${ednString("in-head")}) ?r]]`, ["Function"]],
  ["collection-bound variable head", `[:find ?r :in $ [?f ...] :where [(?f 1) ?r]]`, [["constructor"]]],
  ["variable head that is a number", `[:find ?r :in $ :where [(ground 1) ?f] [(?f 1) ?r]]`],
  ["js/eval", `[:find ?r :in $ :where [(js/eval ${ednString("js-eval")}) ?r]]`],
  ["js/Function", `[:find ?r :in $ :where [(js/Function ${ednString("js-function")}) ?g] [(?g) ?r]]`],
  ["js/ symbol as an argument", `[:find ?r :in $ :where [(str js/process) ?r]]`],
  ["interop method call", `[:find ?c :in $ :where [(ground 1) ?x] [(.constructor ?x) ?c]]`],
  ["interop dot form", `[:find ?c :in $ :where [(ground 1) ?x] [(. ?x constructor) ?c]]`],
  ["interop field access", `[:find ?c :in $ :where [(ground 1) ?x] [(.-constructor ?x) ?c]]`],
  ["namespaced core fn", `[:find ?t :in $ :where [(ground 1) ?x] [(cljs.core/type ?x) ?t]]`],
  ["clojure eval", `[:find ?t :in $ :where [(clojure.core/eval ${ednString("eval")}) ?t]]`],
  ["get constructor", `[:find ?c :in $ :where [(ground 1) ?x] [(get ?x "constructor") ?c]]`],
  ["look-alike type (Cyrillic у)", `[:find ?o :in $ :where [(ground 1) ?x] [(t\u0443pe ?x) ?t] [(t\u0443pe ?t) ?F] [(?F ${ednString("cyrillic")}) ?g] [(?g) ?o]]`],
  ["look-alike ground (fullwidth)", `[:find ?x :in $ :where [(\uff47round 1) ?x]]`],
  ["zero-width joiner in a name", `[:find ?t :in $ :where [(ground 1) ?x] [(type\u200d ?x) ?t]]`],
  ["look-alike variable head", `[:find ?r :in $ :where [(ground 1) ?\u0445] [(?\u0445 1) ?r]]`],
  ["rule body with a type chain", `[:find ?o :in $ % :where (r ?o)]`, [rules(`[[(r ?o) [(ground 1) ?x] [(type ?x) ?t] [(type ?t) ?F] [(?F ${ednString("rule-body")}) ?g] [(?g) ?o]]]`)]],
  ["rule named type", `[:find ?o :in $ % :where [(ground 1) ?x] (type ?x ?o)]`, [rules(`[[(type ?a ?b) [(ground ?a) ?b]]]`)]],
  ["rule named ground", `[:find ?o :in $ % :where (ground ?o)]`, [rules(`[[(ground ?o) [(ground 1) ?o]]]`)]],
  ["rule named like a variable", `[:find ?o :in $ % :where (?F ?o)]`, [rules(`[[(?F ?o) [(ground 1) ?o]]]`)]],
  ["rules as data, not a string", `[:find ?o :in $ % :where (r ?o)]`, [[["r", "?o"]]]],
  ["pull :xform type", `[:find (pull ?e [["block/uid" :xform type]]) :in $ :where [?e "block/uid"]]`],
  ["pull pattern from args", `[:find (pull ?e ?p) :in $ ?p :where [?e "block/uid"]]`, [["*"]]],
  ["legacy pull default", `[:find (pull ?e [(default "block/uid" ${ednString("pull-default")})]) :in $ :where [?e "block/uid"]]`],
  ["custom aggregate with a host function", `[:find (aggregate ?F ?x) :in $ :where [(ground ${ednString("aggregate")}) ?x] [(ground 1) ?n] [(type ?n) ?t] [(type ?t) ?F]]`],
  ["variable aggregate", `[:find (?F ?x) :in $ :where [(ground ${ednString("var-aggregate")}) ?x] [(ground 1) ?n] [(type ?n) ?t] [(type ?t) ?F]]`],
  ["second source from args", `[:find ?x :in $ $x :where [$x ?x]]`, [[[1]]]],
  ["get-else on an args source", `[:find ?v :in $ $s :where [(get-else $s 1 "a" "b") ?v]]`, [{}]],
  ["object arg", `[:find ?x :in $ ?x]`, [{ constructor: "x" }]],
  ["tagged literal #js", `[:find ?x :in $ :where [(ground #js {:a 1}) ?x]]`],
  ["regex literal", `[:find ?x :in $ :where [(re-find #"a" "a") ?x]]`],
  ["metadata", `[:find ?x :in $ :where [(ground ^:foo [1]) ?x]]`],
  ["quoted symbol", `[:find ?x :in $ :where [(ground 'type) ?x]]`],
  ["reader conditional", `[:find ?x :in $ :where [(ground #?(:cljs 1)) ?x]]`],
  ["read-eval", `[:find ?x :in $ :where [(ground #=(eval 1)) ?x]]`],
  ["unknown query section", `{:find [?x] :in [$] :rules [[(type ?x)]]}`],
  ["symbol constant", `[:find ?x :in $ :where [(str type) ?x]]`],
  ];
}
