import vm from "node:vm";
import { ErrorCode, SyncError } from "../errors";
import { type Db, rawQuery } from "./datascript";

// One context, reused: creating a context per query costs more than most queries.
const context = vm.createContext({ q: rawQuery, query: "", db: null as Db | null, args: [] as unknown[], out: undefined as unknown });
const script = new vm.Script("out = q(query, db, ...args)");

/**
 * Runs a Datalog query against db with a wall-clock limit. Datascript is synchronous,
 * so the limit is enforced by V8 terminating the script (vm's timeout), which keeps
 * one runaway query from freezing every client.
 */
export function runQuery(db: Db, query: string, args: readonly unknown[], timeoutMs: number): unknown {
  Object.assign(context, { query, db, args, out: undefined });
  try {
    script.runInContext(context, { timeout: timeoutMs });
    return context.out;
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_SCRIPT_EXECUTION_TIMEOUT") {
      throw new SyncError(ErrorCode.QUERY_TIMEOUT, `query ran over ${timeoutMs} ms (SYNC_QUERY_TIMEOUT)`);
    }
    throw new SyncError(ErrorCode.BAD_QUERY, `query failed: ${(err as Error).message}`, { cause: err });
  } finally {
    Object.assign(context, { db: null, args: [], out: undefined });
  }
}
