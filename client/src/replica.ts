import ds, { type Db } from "datascript";
import { datascriptSchema } from "../../protocol/src/attributes";
import type { TxDatom, Value, WireDatom } from "../../protocol/src/frames";

export type { Db };

const SCHEMA = datascriptSchema();

/** [entity, attribute, value] of a datom the replica holds. */
export type Fact = [number, string, Value];

/**
 * The local replica: a datascript db the app only reads. It changes in exactly two
 * ways: a committed tx's datoms from the server are applied, or a snapshot replaces it.
 * Datoms carry the server's entity ids, so nothing is ever resolved locally.
 */
export class Replica {
  db: Db = ds.empty_db(SCHEMA);
  /** The highest server tx id applied (0: nothing yet). */
  t = 0;

  /**
   * Applies one committed transaction's datoms, in the server's order, and returns every
   * datom it changed as [e, a, v, t, added]: the wire leaves out the retraction of a
   * cardinality-one value that the transaction replaces (protocol/src/tx-datoms.ts), and
   * datascript, asserting the new value, retracts the old one here and reports it.
   */
  apply(t: number, datoms: readonly TxDatom[]): WireDatom[] {
    const report = ds.transact(
      ds.conn_from_db(this.db),
      datoms.map(([e, a, v, retracted]) => [retracted === false ? ":db/retract" : ":db/add", e, a, v]),
    );
    this.db = report.db_after;
    this.t = t;
    // datascript marks a retraction with a negative tx.
    return report.tx_data.map((d) => [d.e, d.a, d.v, t, d.tx > 0]);
  }

  /** Replaces the whole db with the server's (or a persisted) state at t. */
  reset(t: number, datoms: ReadonlyArray<readonly [number, string, unknown, number?, boolean?]>): void {
    this.db = ds.init_db(
      datoms.map(([e, a, v, tx]) => [e, a, v, tx ?? t]),
      SCHEMA,
    );
    this.t = t;
  }

  /** Every datom, as [e, a, v, tx] (for persistence and tests). */
  datoms(): Array<[number, string, Value, number]> {
    return ds.datoms(this.db, ":eavt").map((d) => [d.e, d.a, d.v, d.tx]);
  }

  q<T = unknown>(query: string, ...args: unknown[]): T {
    return ds.q(query, this.db, ...args) as T;
  }
}

/** Datalog and pull on any db value, e.g. one captured earlier from client.db. */
export const datascript = { q: ds.q, pull: ds.pull, datoms: ds.datoms, entity: ds.entity };
