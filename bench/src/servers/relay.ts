/** The relay (relay-child.ts) as a child process: the benchmark's ceiling on this machine. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { QUIET } from "../pool.ts";
import { freePort, type ServerUnderTest, spawnServer } from "./server.ts";

const CHILD = fileURLToPath(new URL("./relay-child.ts", import.meta.url));

export async function startRelay(): Promise<ServerUnderTest> {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "sync-bench-relay-"));
  const port = await freePort();
  return spawnServer({
    label: "relay (no work)",
    // Its clients are ours: it speaks protocol 5's frames.
    kind: "ours",
    args: [...QUIET, CHILD, "--port", String(port)],
    env: process.env,
    cwd: path.dirname(CHILD),
    url: `ws://127.0.0.1:${port}/ws`,
    readyUrl: `http://127.0.0.1:${port}/`,
    protocol: 5,
    logFile: path.join(tempDir, "server.log"),
    tempDir,
  });
}
