import type { Ctx } from "../context";
import { Exit } from "../exit-codes";
import { listNewestFirst, loadSnapshotApi } from "./snapshots";

/** `snapshots`: the stack's volume snapshots, newest first. */
export async function snapshots(ctx: Ctx): Promise<number> {
  const d = await ctx.deployment();
  const list = await listNewestFirst(loadSnapshotApi(), d.outputs);
  ctx.print(list, () =>
    list.length === 0
      ? ["no snapshots yet"]
      : [
          "created                   id                                  size      cloud",
          ...list.map((s) => `${s.createdAt.padEnd(25)} ${s.id.padEnd(35)} ${`${s.sizeGiB} GiB`.padEnd(9)} ${s.cloud}${s.description ? `  ${s.description}` : ""}`),
          "",
          "restore one with: athens-sync restore --from-snapshot <id>",
        ],
  );
  return Exit.OK;
}
