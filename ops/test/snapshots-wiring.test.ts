/**
 * `snapshots`, `restore --from-snapshot` and status's last snapshot call the cloud side
 * (ops/src/snapshots: listSnapshots; ops/src/restore-snapshot.ts: restoreFromSnapshot) with
 * the agreed interface. Here both are stand-ins registered as virtual modules at the exact
 * paths the CLI loads, so this tests the wiring only; the cloud side has its own tests.
 */
import fs from "node:fs";
import path from "node:path";
import { Exit } from "../src/exit-codes";
import { cli, tmpDir } from "./helpers";

const SRC = path.join(__dirname, "..", "src");
const listCalls: unknown[] = [];
const restoreCalls: unknown[] = [];

function outputs(extra: Record<string, string> = {}): string {
  const file = path.join(tmpDir(), "outputs.json");
  fs.writeFileSync(file, JSON.stringify({ provider: "aws", url: "ws://127.0.0.1:9/ws", volumeId: "vol-1", ...extra }));
  return file;
}

describe("with the cloud side present", () => {
  beforeAll(() => {
    jest.doMock(
      path.join(SRC, "snapshots"),
      () => ({
        listSnapshots: async (o: unknown) => {
          listCalls.push(o);
          return [
            { id: "snap-old", createdAt: "2026-11-20T03:00:00Z", sizeGiB: 10, cloud: "aws" },
            { id: "snap-new", createdAt: "2026-11-25T03:00:00Z", sizeGiB: 10, cloud: "aws", description: "nightly" },
            { id: "snap-mid", createdAt: "2026-11-22T03:00:00Z", sizeGiB: 10, cloud: "aws" },
          ];
        },
      }),
      { virtual: true },
    );
    jest.doMock(
      path.join(SRC, "restore-snapshot"),
      () => ({
        restoreFromSnapshot: async (o: unknown) => {
          restoreCalls.push(o);
          return 0;
        },
      }),
      { virtual: true },
    );
  });

  test("snapshots lists newest first, with the stack outputs passed through", async () => {
    const r = await cli(["snapshots", "--outputs", outputs(), "--json"]);
    expect(r.code).toBe(Exit.OK);
    expect(r.json().map((s: { id: string }) => s.id)).toEqual(["snap-new", "snap-mid", "snap-old"]);
    expect(listCalls.at(-1)).toMatchObject({ provider: "aws", volumeId: "vol-1" });
    const human = await cli(["snapshots", "--outputs", outputs()]);
    expect(human.stdout).toMatch(/snap-new.*nightly[\s\S]*snap-mid[\s\S]*snap-old/);
  });

  test("restore --from-snapshot hands over id, stack, --yes and the project dir, and returns its exit code", async () => {
    const cwd = tmpDir();
    const r = await cli(["restore", "--from-snapshot", "snap-new", "--stack", "prod", "--yes"], { cwd });
    expect(r.code).toBe(0);
    expect(restoreCalls.at(-1)).toEqual({ snapshotId: "snap-new", stack: "prod", yes: true, cwd });
    await cli(["restore", "--from-snapshot", "snap-mid", "--cwd", "/srv/infra"]);
    expect(restoreCalls.at(-1)).toEqual({ snapshotId: "snap-mid", stack: undefined, yes: false, cwd: "/srv/infra" });
    expect((await cli(["restore", "--from-snapshot", "a", "--from-backup", "b"])).code).toBe(Exit.USAGE);
  });

  test("status shows the newest snapshot; a listing error does not make the server unhealthy", async () => {
    const r = await cli(["status", "--outputs", outputs(), "--json", "--timeout", "2s"]);
    expect(r.json().lastSnapshot).toMatchObject({ id: "snap-new" });
  });
});
