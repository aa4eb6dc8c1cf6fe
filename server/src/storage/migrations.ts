import type Database from "better-sqlite3";

/**
 * Numbered schema migrations for the log database. Each runs in its own transaction
 * and bumps PRAGMA user_version, so a crash mid-boot leaves a version that is either
 * fully applied or not at all. Append only: never edit a migration that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the transaction log, snapshots and metadata.
  `CREATE TABLE log (
     t         INTEGER PRIMARY KEY,
     client_id TEXT    NOT NULL,
     author    TEXT    NOT NULL,
     tx_data   TEXT    NOT NULL,
     datoms    TEXT    NOT NULL,
     tempids   TEXT    NOT NULL,
     time      INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX log_client ON log (author, client_id);
   CREATE TABLE snapshots (t INTEGER PRIMARY KEY, db TEXT NOT NULL, time INTEGER NOT NULL);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // 2: when each server version first opened this db, for support and upgrades.
  `CREATE TABLE boots (id INTEGER PRIMARY KEY AUTOINCREMENT, version TEXT NOT NULL, time INTEGER NOT NULL);`,
  // 3: a hash of each transaction's tx-data, so a resend is told apart from an id reused for
  // different tx-data. Rows logged before this stay NULL; readers hash their tx_data instead.
  `ALTER TABLE log ADD COLUMN tx_hash TEXT;`,
  // 4: large snapshots are written in chunks off the event loop (storage/snapshot-rows.ts);
  // a snapshots row with chunks > 0 keeps its text in snapshot_chunks, db is ''.
  `ALTER TABLE snapshots ADD COLUMN chunks INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE snapshot_chunks (t INTEGER NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (t, seq));`,
  // 5: resends are recognised by an index in memory (storage/client-id-index.ts); this one
  // made each group commit rewrite an index page per transaction.
  `DROP INDEX log_client;`,
];

export interface MigrationResult {
  readonly from: number;
  readonly to: number;
}

/** Applies every migration above the db's user_version. Refuses a db from a newer server. */
export function migrate(db: Database.Database, migrations: readonly string[] = MIGRATIONS): MigrationResult {
  const from = db.pragma("user_version", { simple: true }) as number;
  if (from > migrations.length) {
    throw new Error(
      `the data directory was written by a newer server (schema ${from}, this server knows ${migrations.length}); run the newer image or restore a backup`,
    );
  }
  for (let version = from + 1; version <= migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version - 1]!);
      db.pragma(`user_version = ${version}`);
    }).immediate();
  }
  return { from, to: migrations.length };
}
