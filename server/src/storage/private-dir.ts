import fs from "node:fs";

/**
 * Creates dir (and parents) and makes it 0700: the db and its backups hold every user's
 * data, and nothing but the server's own user needs to list or read them. A mount point
 * the server does not own keeps its mode (chmod is refused); the files inside are still
 * the server's.
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    if ((fs.statSync(dir).mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") throw err;
  }
}
