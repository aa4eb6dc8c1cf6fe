import type Database from "better-sqlite3";

/**
 * After an online restore the db's history after the backup's t is gone, but clients that
 * were offline through the restore still hold it and present a `since` from it. Once new
 * writes pass their `since`, a log catch-up would hand them the new history's later entries
 * on top of the old history's: a silent fork. So the restore records the highest t the
 * replaced history reached, and any `since` at or below it is answered with a full
 * snapshot instead (always correct; at worst slower for a client that joined after the
 * restore with a small `since`). Kept in the db's meta table, so it survives restarts and
 * carries over through later restores.
 */
const KEY = "resync_through";

export function readResyncThrough(db: Database.Database): number {
  const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(KEY) as { value: string } | undefined;
  if (!row) return 0;
  // NaN here would turn the guard off for good (every `since <= NaN` is false): fail loudly.
  const t = Number(row.value);
  if (!Number.isSafeInteger(t) || t < 0) throw new Error(`meta ${KEY} is ${JSON.stringify(String(row.value).slice(0, 40))}, not a whole number; the db is damaged`);
  return t;
}

export function writeResyncThrough(db: Database.Database, t: number): void {
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(KEY, String(t));
}

/** The `since` a hello may use for catch-up: undefined (a snapshot) when it may come from a replaced history. */
export function usableSince(since: number | undefined, resyncThrough: number): number | undefined {
  return since !== undefined && since <= resyncThrough ? undefined : since;
}
