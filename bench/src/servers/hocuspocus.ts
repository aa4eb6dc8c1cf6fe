/** Hocuspocus 4 as a child process (hocuspocus-child.ts), in memory or with its SQLite extension. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { QUIET } from "../pool.ts";
import type { EditMode } from "../clients/hocuspocus.ts";
import { freePort, type ServerUnderTest, spawnServer } from "./server.ts";

export type HocuspocusStore = "memory" | "sqlite";

const CHILD = fileURLToPath(new URL("./hocuspocus-child.ts", import.meta.url));

/** edit: what its writers' edits do to their text, carried to the client processes in `connect`. */
export async function startHocuspocus(store: HocuspocusStore, edit: EditMode): Promise<ServerUnderTest> {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "sync-bench-hocuspocus-"));
  const port = await freePort();
  const args = [...QUIET, CHILD, "--port", String(port), "--store", store, "--database", path.join(tempDir, "hocuspocus.sqlite")];
  return spawnServer({
    label: `hocuspocus (${store})`,
    kind: "hocuspocus",
    args,
    env: process.env,
    cwd: path.dirname(CHILD),
    url: `ws://127.0.0.1:${port}`,
    readyUrl: `http://127.0.0.1:${port}/`,
    protocol: 0,
    hocuspocusEdit: edit,
    logFile: path.join(tempDir, "server.log"),
    tempDir,
  });
}
