/**
 * `snapshots` and `restore --from-snapshot`: thin wiring over the cloud side, which lives in
 * ops/src/snapshots/ (listSnapshots) and ops/src/restore-snapshot.ts (restoreFromSnapshot).
 * They are loaded at run time so this CLI builds and runs its other commands whether or not
 * a checkout carries them; once both are present the lead may turn these into static imports.
 */
import path from "node:path";
import { CliError, Exit } from "../exit-codes";
import type { StackOutputs } from "../outputs";

export interface Snapshot {
  readonly id: string;
  readonly createdAt: string;
  readonly sizeGiB: number;
  readonly cloud: "aws" | "gcp" | "digitalocean" | "docker";
  readonly description?: string;
}

export interface SnapshotApi {
  listSnapshots(outputs: StackOutputs): Promise<Snapshot[]>;
  restoreFromSnapshot(opts: { snapshotId: string; stack?: string; yes: boolean; cwd: string }): Promise<number>;
}

/** Where the cloud side lives, relative to this file (the same in src/ and dist/). */
const LIST_MODULE = path.join(__dirname, "..", "snapshots");
const RESTORE_MODULE = path.join(__dirname, "..", "restore-snapshot");

export function loadSnapshotApi(): SnapshotApi | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const list = require(LIST_MODULE) as Pick<SnapshotApi, "listSnapshots">;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const restore = require(RESTORE_MODULE) as Pick<SnapshotApi, "restoreFromSnapshot">;
    if (typeof list.listSnapshots !== "function" || typeof restore.restoreFromSnapshot !== "function") return null;
    return { listSnapshots: list.listSnapshots, restoreFromSnapshot: restore.restoreFromSnapshot };
  } catch (err) {
    // Only the cloud side itself missing means "no support"; a dependency missing inside it is a real error.
    const first = String((err as Error).message).split("\n")[0]!;
    if ((err as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && (first.includes(`'${LIST_MODULE}'`) || first.includes(`'${RESTORE_MODULE}'`))) return null;
    throw err;
  }
}

export function requireSnapshotApi(api: SnapshotApi | null): SnapshotApi {
  if (!api) throw new CliError(Exit.FAILED, "no_snapshot_support", "this build of athens-sync has no snapshot support (ops/src/snapshots is missing)");
  return api;
}

/** Newest first, whatever order the cloud answered in. */
export async function listNewestFirst(api: SnapshotApi, outputs: StackOutputs): Promise<Snapshot[]> {
  const all = await api.listSnapshots(outputs);
  return [...all].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
}
