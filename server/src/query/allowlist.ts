/**
 * What a query may call. Datascript 1.8.1 resolves a function head in a `[(f ...)]`
 * clause by looking `f` up in its `built-ins/query-fns` map, then, failing that, by
 * the value a variable named `f` is bound to (query.cljc, filter-by-pred/bind-by-fn);
 * find aggregates resolve through `built-ins/aggregates` or a bound variable. So a
 * variable head calls whatever value it holds, and built-ins such as `type` hand out
 * host constructors (`Function`), which is the code-execution path this list closes.
 *
 * Every name here is a pure function of its arguments that returns plain data (no
 * host objects, no functions). `test/query-escape.test.ts` checks this table against
 * the installed datascript: a name must be one of its built-ins, and every built-in
 * datascript adds in an upgrade must be reviewed before it can be allowed.
 */

/** Functions and predicates allowed as the head of `[(f ...)]` and `[(f ...) binding]`. */
export const QUERY_FUNCTIONS: ReadonlySet<string> = new Set([
  // comparisons (datascript's value-compare for < > <= >=)
  "=", "==", "not=", "!=", "<", ">", "<=", ">=",
  // arithmetic
  "+", "-", "*", "/", "quot", "rem", "mod", "inc", "dec", "max", "min",
  "zero?", "pos?", "neg?", "even?", "odd?",
  // strings
  "str", "subs", "count",
  "clojure.string/starts-with?", "clojure.string/ends-with?", "clojure.string/includes?", "clojure.string/blank?",
  // regular expressions: re-pattern only on a literal of at most MAX_REGEX_CHARS (below)
  "re-pattern", "re-find", "re-matches",
  // binding and db lookups
  "ground", "get-else", "missing?",
]);

/** Functions whose first argument must be the db source `$` (they read the db). */
export const DB_FUNCTIONS: ReadonlySet<string> = new Set(["get-else", "missing?"]);

/** Aggregates allowed in :find, e.g. `(count ?e)`, `(max 3 ?t)`. */
export const QUERY_AGGREGATES: ReadonlySet<string> = new Set([
  "count", "count-distinct", "sum", "avg", "median", "variance", "stddev", "min", "max", "distinct",
]);

/**
 * Names a rule may not take: every datascript built-in (allowed or not), aggregate and
 * clause keyword, so a rule call can never be read as anything but a rule.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  "and", "or", "or-join", "not", "not-join", "pull", "aggregate", "_", "...", ".",
  "type", "identity", "complement", "meta", "keyword", "name", "namespace", "vector", "list", "set", "hash-map",
  "array-map", "range", "not-empty", "empty?", "contains?", "get", "get-some", "pr-str", "print-str", "println-str",
  "prn-str", "re-seq", "rand", "rand-int", "-differ?", "tuple", "untuple", "identical?", "compare", "true?", "false?",
  "nil?", "some?", "sample",
  ...QUERY_FUNCTIONS,
  ...QUERY_AGGREGATES,
]);

/** Longest regular expression source `re-pattern` accepts (the time limit covers the rest). */
export const MAX_REGEX_CHARS = 256;
