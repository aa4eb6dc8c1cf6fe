import Database from "better-sqlite3";
import { MIGRATIONS } from "../storage/migrations";
import { UploadError } from "./upload";

/** Tables and columns the log db has had since migration 1; a backup without them is not ours. */
const REQUIRED: Record<string, readonly string[]> = {
  log: ["t", "client_id", "author", "tx_data", "datoms", "tempids", "time"],
  snapshots: ["t", "db", "time"],
  meta: ["key", "value"],
};

/**
 * Checks an uploaded backup before anything is drained: it is a SQLite db, its full
 * integrity_check passes, its schema version is one this server can migrate (not newer),
 * and it has the log's tables. Throws an UploadError (422) that says what is wrong.
 * Deeper damage (a log that does not replay) is caught when the server opens it, and then
 * the previous db is put back.
 */
export function validateUpload(file: string): void {
  const refuse = (why: string) => new UploadError(422, "not_a_backup", `the upload is not a usable sync server backup: ${why}; nothing was changed`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw refuse(`it does not open as a SQLite db (${(err as { code?: string }).code ?? "error"})`);
  }
  try {
    let check: unknown;
    try {
      check = db.pragma("integrity_check", { simple: true });
    } catch (err) {
      throw refuse(`it is not a readable SQLite db (${(err as { code?: string }).code ?? "error"})`);
    }
    if (check !== "ok") throw refuse(`integrity_check failed (${String(check).slice(0, 200)})`);
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version < 1) throw refuse("it has no schema version (an empty or foreign db)");
    if (version > MIGRATIONS.length) throw refuse(`it was written by a newer server (schema ${version}, this server knows ${MIGRATIONS.length}); upgrade the server first`);
    for (const [table, columns] of Object.entries(REQUIRED)) {
      const have = new Set((db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as Array<{ name: string }>).map((c) => c.name));
      const missing = columns.filter((c) => !have.has(c));
      if (missing.length > 0) throw refuse(`table ${table} lacks ${missing.join(", ")}`);
    }
    db.prepare("SELECT count(*) FROM log").get();
  } finally {
    db.close();
  }
}
