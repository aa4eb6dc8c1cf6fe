import { ErrorCode, SyncError } from "../errors";
import { DB_FUNCTIONS, MAX_REGEX_CHARS, QUERY_AGGREGATES, QUERY_FUNCTIONS, RESERVED_NAMES } from "./allowlist";
import { type Edn, EdnError, printEdn, readEdn, showEdn } from "./edn";

/**
 * Turns a client's query text and args into a query datascript may run, or throws
 * `bad_query` naming the offending form.
 *
 * The query is read into a tree (./edn.ts), and a new tree is built from the parts
 * that pass the grammar below; nothing unchecked is copied over. That tree is printed
 * as canonical EDN, and the printed text is what datascript reads, so what runs is
 * exactly what was validated.
 *
 *   query     = [:find find-spec (:keys sym+)? (:with var+)? (:in $ in-binding*)? (:where clause*)?]
 *               (or the same as a map {:find [...] ...})
 *   clause    = data-pattern | [(fn arg*)] | [(fn arg*) binding] | (not clause+)
 *             | (not-join [var+] clause+) | (or clause+) | (or-join [var+] clause+) | (and clause+)
 *             | (rule-name arg*)
 *   fn        = a name in QUERY_FUNCTIONS, written exactly (never a variable)
 *   find-elem = var | (pull var pull-pattern) | (aggregate number? var)
 *   rules     = passed as a string in args where :in has %, checked with this same grammar
 */

export interface PreparedQuery {
  /** Canonical EDN of the validated query: exactly what datascript reads. */
  readonly text: string;
  /** The inputs after the db, checked against :in; a rules input is its canonical text. */
  readonly args: unknown[];
}

export interface QueryShapeLimits {
  readonly maxDepth: number;
  readonly maxForms: number;
  /** Most where clauses (nested ones and rule bodies included). */
  readonly maxClauses: number;
}

export const QUERY_SHAPE_LIMITS: QueryShapeLimits = Object.freeze({ maxDepth: 24, maxForms: 2000, maxClauses: 100 });

/** Most values in all args together (each scalar and each list counts). */
const MAX_ARG_VALUES = 100_000;

const sym = (name: string): Edn => ({ k: "sym", name });
const kw = (name: string): Edn => ({ k: "kw", name });
const vec = (items: readonly Edn[]): Edn => ({ k: "vec", items });
const list = (items: readonly Edn[]): Edn => ({ k: "list", items });

/** A datascript variable: "?" then symbol characters, no namespace. */
const VARIABLE = /^\?[A-Za-z0-9*+!\-_?<>=.]*$/;
const RULE_NAME = /^[a-z][a-z0-9-]*[?!]?$/;
const KEY_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

function isSym(form: Edn | undefined, name?: string): form is { k: "sym"; name: string } {
  return form?.k === "sym" && (name === undefined || form.name === name);
}

function isVar(form: Edn | undefined): boolean {
  return form?.k === "sym" && VARIABLE.test(form.name);
}

function isScalar(form: Edn | undefined): boolean {
  return form?.k === "str" || form?.k === "num" || form?.k === "bool" || form?.k === "kw";
}

function bad(message: string): never {
  throw new SyncError(ErrorCode.BAD_QUERY, message);
}

function notAllowed(form: Edn, why: string): never {
  bad(`${why}: ${showEdn(form)}`);
}

class Checker {
  private clauses = 0;

  constructor(
    private readonly limits: QueryShapeLimits,
    private rules: ReadonlySet<string>,
  ) {}

  withRules(rules: ReadonlySet<string>): void {
    this.rules = rules;
  }

  variable(form: Edn | undefined, where: Edn): Edn {
    if (!form || !isVar(form)) notAllowed(form ?? where, "expected a ?variable");
    return form;
  }

  variables(form: Edn | undefined, where: Edn): Edn {
    if (form?.k !== "vec" || form.items.length === 0) notAllowed(form ?? where, "expected a vector of ?variables");
    return vec(form.items.map((v) => this.variable(v, form)));
  }

  /** An argument to a function or rule: a variable, `_` where allowed, or a scalar constant. */
  argument(form: Edn, where: Edn, blankOk: boolean): Edn {
    if (isVar(form) || isScalar(form) || (blankOk && isSym(form, "_"))) return form;
    if (isSym(form)) notAllowed(where, `symbol ${form.name} is not allowed as an argument`);
    notAllowed(where, `only ?variables and string, number, boolean or keyword constants are allowed as arguments`);
  }

  /** A data-pattern element: a variable, `_`, a scalar, or a lookup ref [attr value]. */
  patternElement(form: Edn, where: Edn): Edn {
    if (isVar(form) || isSym(form, "_") || isScalar(form)) return form;
    if (form.k === "vec" && form.items.length === 2 && form.items.every(isScalar)) return vec(form.items);
    notAllowed(where, "a data pattern holds only ?variables, _, constants and [attribute value] lookup refs");
  }

  /** What a function's result binds to: ?x, _, [?x ...], [?a ?b], [[?a ?b]]. */
  binding(form: Edn, where: Edn): Edn {
    if (isVar(form) || isSym(form, "_")) return form;
    if (form.k === "vec" && form.items.length > 0) {
      const items = form.items;
      if (items.length === 2 && isSym(items[1], "...")) return vec([this.binding(items[0]!, where), sym("...")]);
      return vec(items.map((item) => this.binding(item, where)));
    }
    notAllowed(where, "a function result binds only to ?x, _, [?x ...], [?a ?b] or [[?a ?b]]");
  }

  private countClause(form: Edn): void {
    if (++this.clauses > this.limits.maxClauses) notAllowed(form, `more than ${this.limits.maxClauses} clauses`);
  }

  clauseList(forms: readonly Edn[], where: Edn, min = 1): Edn[] {
    if (forms.length < min) notAllowed(where, "expected at least one clause");
    return forms.map((f) => this.clause(f));
  }

  clause(form: Edn): Edn {
    this.countClause(form);
    if (form.k === "vec") {
      if (form.items[0]?.k === "list") return this.functionClause(form);
      const items = isSym(form.items[0], "$") ? form.items.slice(1) : form.items;
      if (items.length < 1 || items.length > 4) notAllowed(form, "a data pattern has 1 to 4 elements");
      if (items.some((i) => i.k === "sym" && i.name.startsWith("$"))) notAllowed(form, "only the default source $ is supported");
      return vec([...(items.length < form.items.length ? [sym("$")] : []), ...items.map((i) => this.patternElement(i, form))]);
    }
    if (form.k === "list") {
      const [head, ...rest] = form.items;
      if (!isSym(head)) notAllowed(form, "a clause list must start with not, not-join, or, or-join, and or a rule name");
      switch (head.name) {
        case "not":
        case "and":
        case "or":
          return list([head, ...this.clauseList(rest, form)]);
        case "not-join":
          return list([head, this.variables(rest[0], form), ...this.clauseList(rest.slice(1), form)]);
        case "or-join": {
          const vars = rest[0];
          if (vars?.k === "vec" && vars.items[0]?.k === "vec") {
            const [required, ...free] = vars.items;
            return list([head, vec([this.variables(required, form), ...free.map((v) => this.variable(v, form))]), ...this.clauseList(rest.slice(1), form)]);
          }
          return list([head, this.variables(vars, form), ...this.clauseList(rest.slice(1), form)]);
        }
        default:
          if (this.rules.has(head.name)) return list([head, ...rest.map((a) => this.argument(a, form, true))]);
          if (isVar(head)) notAllowed(form, "a variable cannot be called");
          notAllowed(form, `unknown clause or rule "${head.name}"`);
      }
    }
    notAllowed(form, "a clause must be a data pattern [...], a function call [(f ...)] or a list (not ...), (or ...), (rule ...)");
  }

  private functionClause(form: Edn & { k: "vec" }): Edn {
    if (form.items.length > 2) notAllowed(form, "a function clause is [(f args...)] or [(f args...) binding]");
    const call = form.items[0] as Edn & { k: "list" };
    const [head, ...args] = call.items;
    if (!head) notAllowed(form, "empty function call");
    if (!isSym(head)) notAllowed(form, "a function head must be a symbol");
    if (isVar(head)) notAllowed(form, "a variable cannot be a function head");
    if (!QUERY_FUNCTIONS.has(head.name)) notAllowed(form, `function ${head.name} is not allowed`);
    let checked: Edn[];
    if (DB_FUNCTIONS.has(head.name)) {
      if (!isSym(args[0], "$")) notAllowed(form, `${head.name} takes the db $ as its first argument`);
      checked = [sym("$"), ...args.slice(1).map((a) => this.argument(a, form, false))];
    } else if (head.name === "re-pattern") {
      const [source] = args;
      if (args.length !== 1 || source?.k !== "str") notAllowed(form, "re-pattern takes one string literal");
      if (source.value.length > MAX_REGEX_CHARS) notAllowed(form, `a regular expression is limited to ${MAX_REGEX_CHARS} characters`);
      checked = [source];
    } else if (head.name === "ground") {
      if (args.length !== 1) notAllowed(form, "ground takes one argument");
      checked = [this.groundValue(args[0]!, form, 0)];
    } else {
      checked = args.map((a) => this.argument(a, form, false));
    }
    const out: Edn[] = [list([head, ...checked])];
    if (form.items.length === 2) out.push(this.binding(form.items[1]!, form));
    return vec(out);
  }

  private groundValue(form: Edn, where: Edn, depth: number): Edn {
    if (isVar(form) || isScalar(form)) return form;
    if (form.k === "vec" && depth < 2) return vec(form.items.map((i) => this.groundValue(i, where, depth + 1)));
    notAllowed(where, "ground takes a ?variable, a constant, or a vector of constants");
  }

  findElement(form: Edn): Edn {
    if (isVar(form)) return form;
    if (form.k === "list" && isSym(form.items[0])) {
      const [head, ...args] = form.items as [Edn & { k: "sym" }, ...Edn[]];
      if (head.name === "pull") {
        if (args.length !== 2) notAllowed(form, "pull takes a ?variable and a pattern: (pull ?e [...])");
        return list([head, this.variable(args[0], form), pullPattern(args[1]!, form)]);
      }
      if (QUERY_AGGREGATES.has(head.name)) {
        const last = args[args.length - 1];
        const leading = args.slice(0, -1);
        if (!last || !isVar(last) || leading.length > 1 || !leading.every((a) => a.k === "num")) {
          notAllowed(form, "an aggregate takes a ?variable, optionally after one number: (max 3 ?x)");
        }
        return list([head, ...leading, last]);
      }
      notAllowed(form, `aggregate ${head.name} is not allowed`);
    }
    notAllowed(form, "a :find element is a ?variable, (pull ?e [...]) or an aggregate such as (count ?e)");
  }

  findSpec(items: readonly Edn[], where: Edn): Edn[] {
    if (items.length === 0) notAllowed(where, ":find needs at least one element");
    if (items.length === 1 && items[0]!.k === "vec") {
      const inner = items[0]!.items;
      if (inner.length === 2 && isSym(inner[1], "...")) return [vec([this.findElement(inner[0]!), sym("...")])];
      if (inner.length === 0) notAllowed(where, "an empty find tuple");
      return [vec(inner.map((e) => this.findElement(e)))];
    }
    if (items.length === 2 && isSym(items[1], ".")) return [this.findElement(items[0]!), sym(".")];
    return items.map((e) => this.findElement(e));
  }
}

/** A pull pattern: *, attribute names, {ref-attr pattern|...|n}, [attr :as x :limit n :default v]. */
function pullPattern(form: Edn, where: Edn): Edn {
  if (form.k !== "vec" || form.items.length === 0) notAllowed(where, "a pull pattern is a vector literal such as [\"*\"]");
  return vec(form.items.map((item) => pullItem(item, where)));
}

function pullAttribute(form: Edn | undefined, where: Edn): Edn {
  if (form?.k === "str" || form?.k === "kw") return form;
  notAllowed(where, "a pull attribute is a string or keyword");
}

function pullItem(form: Edn, where: Edn): Edn {
  if (isSym(form, "*") || (form.k === "str" && form.value === "*")) return form;
  if (form.k === "str" || form.k === "kw") {
    if (form.k === "str" && (form.value === "limit" || form.value === "default")) notAllowed(where, "legacy pull forms are not supported");
    return form;
  }
  if (form.k === "vec") {
    const [attr, ...options] = form.items;
    const out: Edn[] = [pullAttribute(attr, where)];
    if (options.length === 0 || options.length % 2 !== 0) notAllowed(where, "a pull attribute expression is [attr :option value ...]");
    for (let i = 0; i < options.length; i += 2) {
      const key = options[i]!;
      const value = options[i + 1]!;
      if (key.k === "kw" && key.name === "as" && (value.k === "str" || value.k === "kw")) out.push(key, value);
      else if (key.k === "kw" && key.name === "limit" && ((value.k === "num" && Number.isInteger(value.value) && value.value > 0) || value.k === "nil")) out.push(key, value);
      else if (key.k === "kw" && key.name === "default" && isScalar(value)) out.push(key, value);
      else notAllowed(where, `pull option ${showEdn(key)} ${showEdn(value)} is not allowed (only :as, :limit, :default)`);
    }
    return vec(out);
  }
  if (form.k === "map") {
    return {
      k: "map",
      entries: form.entries.map(([key, value]): [Edn, Edn] => {
        const attr = key.k === "vec" ? pullItem(key, where) : pullAttribute(key, where);
        if (isSym(value, "...")) return [attr, value];
        if (value.k === "num" && Number.isInteger(value.value) && value.value > 0 && value.value <= 1000) return [attr, value];
        return [attr, pullPattern(value, where)];
      }),
    };
  }
  notAllowed(where, "a pull pattern holds attribute names, \"*\", maps and [attr :option value] vectors");
}

interface Parts {
  find: readonly Edn[];
  keys?: readonly Edn[];
  with?: readonly Edn[];
  in?: readonly Edn[];
  where?: readonly Edn[];
}

const SECTIONS = new Set(["find", "keys", "with", "in", "where"]);

function sections(form: Edn): Parts {
  const parts: Record<string, readonly Edn[]> = {};
  if (form.k === "vec") {
    let current: string | null = null;
    let items: Edn[] = [];
    const close = () => {
      if (current !== null) parts[current] = items;
    };
    for (const item of form.items) {
      if (item.k === "kw") {
        if (!SECTIONS.has(item.name)) notAllowed(item, "unsupported query section (use :find, :keys, :with, :in, :where)");
        if (item.name in parts || item.name === current) notAllowed(item, "a query section appears twice");
        close();
        current = item.name;
        items = [];
      } else {
        if (current === null) notAllowed(item, "a query starts with :find");
        items.push(item);
      }
    }
    close();
  } else if (form.k === "map") {
    for (const [key, value] of form.entries) {
      if (key.k !== "kw" || !SECTIONS.has(key.name)) notAllowed(key, "unsupported query section (use :find, :keys, :with, :in, :where)");
      if (value.k !== "vec") notAllowed(value, `the value of :${key.name} must be a vector`);
      if (key.name in parts) notAllowed(key, "a query section appears twice");
      parts[key.name] = value.items;
    }
  } else {
    notAllowed(form, "a query is a vector [:find ...] or a map {:find [...]}");
  }
  if (!parts.find) bad("a query needs :find");
  return parts as unknown as Parts;
}

type Input = { kind: "rules" } | { kind: "value"; binding: Edn };

/** Checks one arg against its :in binding; returns how many values it holds. */
function checkArg(binding: Edn, value: unknown, where: string): number {
  if (binding.k === "sym") {
    if (typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return 1;
    bad(`${where}: expected a string, number or boolean for ${binding.name}`);
  }
  const items = (binding as Edn & { k: "vec" }).items;
  if (!Array.isArray(value)) bad(`${where}: expected a list for ${showEdn(binding)}`);
  if (items.length === 2 && isSym(items[1], "...")) {
    return value.reduce<number>((n, v, i) => n + checkArg(items[0]!, v, `${where}[${i}]`), 1);
  }
  if (value.length !== items.length) bad(`${where}: expected ${items.length} values for ${showEdn(binding)}`);
  return value.reduce<number>((n, v, i) => n + checkArg(items[i]!, v, `${where}[${i}]`), 1);
}

function inBinding(form: Edn, checker: Checker): Edn {
  if (isVar(form) || isSym(form, "_")) return form;
  if (form.k === "vec" && form.items.length > 0) return checker.binding(form, form);
  notAllowed(form, "an :in binding is ?x, _, [?x ...], [?a ?b] or [[?a ?b]] (after $ and an optional %)");
}

function readRules(text: unknown, limits: QueryShapeLimits, checker: Checker): string {
  if (typeof text !== "string") bad("the rules input (%) must be a string of EDN rules");
  let form: Edn;
  try {
    form = readEdn(text, limits);
  } catch (err) {
    if (err instanceof EdnError) bad(`rules do not parse: ${err.message}`);
    throw err;
  }
  if (form.k !== "vec" || form.items.length === 0) notAllowed(form, "rules are a vector of [(name ?args...) clause...]");
  const names = new Set<string>();
  const heads = form.items.map((rule) => {
    if (rule.k !== "vec" || rule.items[0]?.k !== "list") notAllowed(rule, "a rule is [(name ?args...) clause...]");
    const [name, ...params] = rule.items[0].items;
    if (!isSym(name) || !RULE_NAME.test(name.name) || RESERVED_NAMES.has(name.name)) {
      notAllowed(rule, "a rule name is lower-case letters, digits and -, and not a built-in or clause name");
    }
    if (params.length === 0) notAllowed(rule, "a rule takes at least one ?variable");
    const checkedParams = params.map((p, i) => (i === 0 && p.k === "vec" ? checker.variables(p, rule) : checker.variable(p, rule)));
    names.add(name.name);
    return list([name, ...checkedParams]);
  });
  checker.withRules(names);
  const rules = form.items.map((rule, i) => vec([heads[i]!, ...checker.clauseList((rule as Edn & { k: "vec" }).items.slice(1), rule)]));
  return printEdn(vec(rules));
}

/** Reads, checks and canonicalizes a query and its args; throws SyncError bad_query. */
export function prepareQuery(text: string, args: readonly unknown[], limits: QueryShapeLimits = QUERY_SHAPE_LIMITS): PreparedQuery {
  let form: Edn;
  try {
    form = readEdn(text, limits);
  } catch (err) {
    if (err instanceof EdnError) bad(`query does not parse: ${err.message}`);
    throw err;
  }
  const parts = sections(form);
  const checker = new Checker(limits, new Set());

  const inForms = parts.in ?? [sym("$")];
  if (!isSym(inForms[0], "$")) bad(":in must start with $ (the db)");
  const inputs: Input[] = [];
  const inOut: Edn[] = [sym("$")];
  for (const b of inForms.slice(1)) {
    if (isSym(b, "%")) {
      if (inputs.some((i) => i.kind === "rules")) notAllowed(b, "% appears twice in :in");
      inputs.push({ kind: "rules" });
      inOut.push(b);
    } else if (b.k === "sym" && (b.name.startsWith("$") || b.name.startsWith("%"))) {
      notAllowed(b, "only the db $ and one rules input % are supported in :in");
    } else {
      const binding = inBinding(b, checker);
      inputs.push({ kind: "value", binding });
      inOut.push(binding);
    }
  }
  if (args.length !== inputs.length) bad(`:in expects ${inputs.length} args after $, got ${args.length}`);

  let values = 0;
  const preparedArgs = args.map((arg, i) => {
    const input = inputs[i]!;
    if (input.kind === "rules") return readRules(arg, limits, checker);
    values += checkArg(input.binding, arg, `args[${i}]`);
    if (values > MAX_ARG_VALUES) bad(`args hold more than ${MAX_ARG_VALUES} values`);
    return arg;
  });

  const out: Edn[] = [kw("find"), ...checker.findSpec(parts.find, form)];
  if (parts.keys) {
    if (parts.keys.length === 0 || !parts.keys.every((k) => k.k === "sym" && KEY_NAME.test(k.name))) bad(":keys takes plain names such as :keys uid text");
    out.push(kw("keys"), ...parts.keys);
  }
  if (parts.with) out.push(kw("with"), ...parts.with.map((v) => checker.variable(v, form)));
  out.push(kw("in"), ...inOut);
  if (parts.where) out.push(kw("where"), ...checker.clauseList(parts.where, form, 0));
  return { text: printEdn(vec(out)), args: preparedArgs };
}
