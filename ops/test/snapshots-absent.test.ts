/** Without the cloud side in the checkout, the snapshot commands say so (exit 1) and every other command still works. */
import fs from "node:fs";
import path from "node:path";
import { Exit } from "../src/exit-codes";
import { cli, tmpDir } from "./helpers";

const present = fs.existsSync(path.join(__dirname, "..", "src", "snapshots"));

(present ? test.skip : test)("snapshots and restore --from-snapshot: no snapshot support, exit 1", async () => {
  const file = path.join(tmpDir(), "outputs.json");
  fs.writeFileSync(file, JSON.stringify({ provider: "aws", url: "ws://127.0.0.1:9/ws" }));
  const r = await cli(["snapshots", "--outputs", file]);
  expect([r.code, r.stderr]).toEqual([Exit.FAILED, expect.stringMatching(/no snapshot support/)]);
  expect((await cli(["restore", "--from-snapshot", "snap-1", "--yes"])).code).toBe(Exit.FAILED);
});
