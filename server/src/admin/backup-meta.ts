import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { BackupInfo } from "../../../protocol/src/admin";

/**
 * What the server knew about a backup when it took it (t, datom count, sha256), kept
 * beside the file as `<file>.json`, so a download can be checked against it. Backups
 * written without a running server (`sync-server backup`) have none.
 */
export function sidecarOf(file: string): string {
  return `${file}.json`;
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash("sha256");
    fs.createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .once("error", reject)
      .once("end", () => resolve(hash.digest("hex")));
  });
}

/** Writes the sidecar via a .tmp file and rename, and drops sidecars whose backup was pruned. */
export function writeSidecar(info: BackupInfo, file: string): void {
  const target = sidecarOf(file);
  fs.writeFileSync(`${target}.tmp`, JSON.stringify(info), { mode: 0o600 });
  fs.renameSync(`${target}.tmp`, target);
  const dir = path.dirname(file);
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(".db.json") && !fs.existsSync(path.join(dir, name.slice(0, -".json".length)))) fs.rmSync(path.join(dir, name), { force: true });
  }
}

export function readSidecar(file: string): BackupInfo | null {
  try {
    return JSON.parse(fs.readFileSync(sidecarOf(file), "utf8")) as BackupInfo;
  } catch {
    return null;
  }
}
