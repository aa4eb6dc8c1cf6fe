import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { UploadError } from "../src/admin/upload";
import { validateUpload, validateUploadOffThread } from "../src/admin/validate-upload";
import { migrate } from "../src/storage/migrations";
import { longestStall, tmpDir } from "./helpers";

/** A valid backup of some size: the server's own schema, many rows (meta keys it ignores). */
function largeBackup(rows: number): string {
  const file = path.join(tmpDir(), "large.db");
  const db = new Database(file);
  migrate(db);
  const insert = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`padding-${i}-${Math.random()}`, "x".repeat(300));
  })();
  db.close();
  return file;
}

describe("validating a restore upload", () => {
  test("integrity_check of a large upload runs off the event loop: timers keep firing", async () => {
    const file = largeBackup(250_000);
    const started = performance.now();
    validateUpload(file); // on this thread: the stall the server used to have
    const onLoopMs = performance.now() - started;
    expect(onLoopMs).toBeGreaterThan(80);
    // On the loop, every run would stall for the whole check (onLoopMs). Off it, one run can
    // still meet a scheduling or GC pause on a loaded CI machine (97 ms once, against a typical
    // 5-35 ms), so the best of up to three runs is what must stay short.
    const bound = Math.max(40, onLoopMs / 3);
    const stalls: number[] = [];
    for (let run = 0; run < 3; run++) {
      stalls.push(await longestStall(() => validateUploadOffThread(file)));
      if (stalls[run]! < bound) break;
    }
    expect(Math.min(...stalls)).toBeLessThan(bound);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  test("a refusal comes back from the worker as the same UploadError (422, not_a_backup)", async () => {
    const file = path.join(tmpDir(), "foreign.db");
    const db = new Database(file);
    db.exec("CREATE TABLE notes (body TEXT)");
    db.pragma("user_version = 1");
    db.close();
    const err = await validateUploadOffThread(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect(err).toMatchObject({ status: 422, code: "not_a_backup", message: expect.stringMatching(/holds table notes, which this server never creates/) });
  });

  test("a file that is not SQLite at all is refused the same way", async () => {
    const file = path.join(tmpDir(), "junk.db");
    fs.writeFileSync(file, "SQLite format 3\u0000 but not really".repeat(100));
    await expect(validateUploadOffThread(file)).rejects.toMatchObject({ status: 422, code: "not_a_backup" });
  });
});
