/**
 * On GCP the config's `region` becomes the Artifact Registry host in the registry login
 * script, which the stack unit runs as root before every start (ExecStartPre=
 * /usr/local/sbin/sync-registry-login): `docker login … https://${region}-docker.pkg.dev`.
 * Any non-empty string used to pass (found by a hostile review); region and zone names
 * are now held to a cloud location's characters, on every provider.
 */
import { parse } from "yaml";
import { parseConfig } from "../components/config";
import { byType, plain, type Captured, runProgram } from "./mocks";

const LOGIN_SCRIPT = "/usr/local/sbin/sync-registry-login";
const PAYLOAD = "touch /tmp/region-pwned";

const userDataOf = (r: Captured): string => plain<string>(plain<Record<string, unknown>>(r.inputs.metadata)["user-data"]);

test.each([[`us-central1;${PAYLOAD};x`], [`us-central1$(${PAYLOAD})`], [`us-central1\n${PAYLOAD}\n`], ["US Central 1"]])("region %j is refused by the config, naming the key", (region) => {
  for (const provider of ["gcp", "aws", "digitalocean"]) {
    expect(() => parseConfig({ provider, region, ...(provider === "digitalocean" ? { doSnapshotToken: "dop_v1_" + "f".repeat(64) } : {}) })).toThrow(/athens-sync:region: must be the cloud's region name/);
  }
  expect(() => parseConfig({ provider: "gcp", zone: `${region}-b` })).toThrow(/athens-sync:zone: must be the cloud's zone name/);
});

test.each([["us-central1"], ["europe-west1"]])("a real region %s still names its registry in the login script", async (region) => {
  const run = await runProgram({ provider: "gcp", region }, "prod");
  const vm = byType(run.resources, "gcp:compute/instance:Instance")[0]!;
  const doc = parse(userDataOf(vm).replace(/^#cloud-config\n/, "")) as { write_files: Array<{ path: string; content: string }> };
  expect(doc.write_files.find((f) => f.path === LOGIN_SCRIPT)!.content).toContain(`https://${region}-docker.pkg.dev`);
});

test.each([["us-east-1"], ["fra1"], ["europe-west1"]])("region %s passes", (region) => {
  expect(parseConfig({ provider: "aws", region }).region).toBe(region);
});
