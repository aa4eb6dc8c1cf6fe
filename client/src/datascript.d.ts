/** The few functions of the `datascript` npm package (which ships no types) the client uses. */
declare module "datascript" {
  /** An immutable database value. */
  export interface Db {
    readonly __brand?: "datascript.Db";
  }
  /** A mutable reference to a db (only used to get a transaction's report). */
  export interface Conn {
    readonly __brand?: "datascript.Conn";
  }
  export interface RawDatom {
    e: number;
    a: string;
    v: string | number | boolean;
    tx: number;
  }
  const ds: {
    empty_db(schema: Record<string, Record<string, string>>): Db;
    init_db(datoms: Array<[number, string, unknown, number]>, schema: Record<string, Record<string, string>>): Db;
    db_with(db: Db, tx: unknown[]): Db;
    conn_from_db(db: Db): Conn;
    /** tx_data: every datom the transaction changed; a retraction carries a negative tx. */
    transact(conn: Conn, tx: unknown[]): { db_after: Db; tx_data: RawDatom[] };
    datoms(db: Db, index: string, ...components: unknown[]): RawDatom[];
    q(query: string, ...inputs: unknown[]): unknown;
    pull(db: Db, pattern: string, eid: unknown): unknown;
    entity(db: Db, eid: unknown): unknown;
  };
  export default ds;
}
