/**
 * `snapshots` and `restore --from-snapshot`: thin wiring over the cloud side, which lives in
 * ops/src/snapshots/ (listSnapshots) and ops/src/restore-snapshot.ts (restoreFromSnapshot).
 * They are loaded on first use (loadSnapshotApi).
 */
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

/**
 * The cloud side, loaded when a command needs it: it pulls in the clouds' SDKs, whose load
 * time every other command (and --help) would otherwise pay.
 */
export function loadSnapshotApi(): SnapshotApi {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const list = require("../snapshots") as Pick<SnapshotApi, "listSnapshots">;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const restore = require("../restore-snapshot") as Pick<SnapshotApi, "restoreFromSnapshot">;
  return { listSnapshots: list.listSnapshots, restoreFromSnapshot: restore.restoreFromSnapshot };
}

/** Newest first, whatever order the cloud answered in. */
export async function listNewestFirst(api: SnapshotApi, outputs: StackOutputs): Promise<Snapshot[]> {
  const all = await api.listSnapshots(outputs);
  return [...all].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
}
