import type { Connection } from "../connection";
import { ErrorCode } from "../errors";
import type { QueryMessage } from "../../../protocol/src";
import type { LogEntry } from "../storage/store";
import { QueryPool, type PoolOptions } from "./pool";
import { prepareQuery } from "./validate";

/**
 * The server's side of `q` frames: one query in flight per connection, validation on
 * the writer's thread (cheap and bounded), execution in the worker pool.
 */
export class QueryService {
  private readonly pool: QueryPool;
  /** Connections with a query in flight, and how to cancel it if they leave. */
  private readonly inFlight = new Map<Connection, () => void>();

  constructor(options: PoolOptions) {
    this.pool = new QueryPool(options);
  }

  /** Throws SyncError (bad_query) for a query outside the allowlist; Connection turns it into an error frame. */
  handle(conn: Connection, msg: QueryMessage): void {
    if (this.inFlight.has(conn)) {
      return conn.error(ErrorCode.QUERY_BUSY, "a query from this connection is still running; wait for its reply", msg.id);
    }
    const prepared = prepareQuery(msg.query, msg.args);
    let finished = false;
    const cancel = this.pool.run(prepared, (outcome) => {
      finished = true;
      this.inFlight.delete(conn);
      // The rows are JSON text from the worker: splice them in rather than parse and re-stringify.
      if (outcome.ok) conn.sendText(`{"type":"result","id":${JSON.stringify(msg.id)},"rows":${outcome.json}}`);
      else conn.error(outcome.code, outcome.message, msg.id);
    });
    if (!finished) this.inFlight.set(conn, cancel);
  }

  /** Forwards committed transactions to the workers' copies of the db. */
  commit(entries: readonly LogEntry[]): void {
    this.pool.commit(entries);
  }

  /** The connection closed: a query of its that has not started is dropped. */
  closed(conn: Connection): void {
    this.inFlight.get(conn)?.();
    this.inFlight.delete(conn);
  }

  stop(): Promise<void> {
    return this.pool.stop();
  }
}
