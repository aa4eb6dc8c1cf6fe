/**
 * The VM suite (npm run test:vm) renders each cloud's user data with mocks of its own
 * (test/vm/user-data.ts) before it boots anything. Rendering it here, in seconds, means a
 * change to a program that those mocks do not answer (a new data source, say) fails the
 * test phase, not a VM boot half an hour into CI.
 */
import { parse } from "yaml";
import { renderCloudUserData } from "./vm/user-data";

const images = {
  serverDigest: `sha256:${"a".repeat(64)}`,
  caddyRef: `127.0.0.1:5000/caddy@sha256:${"b".repeat(64)}`,
  caddyDigest: `sha256:${"b".repeat(64)}`,
};

test.each(["aws", "gcp", "digitalocean"] as const)("the VM suite's %s user data renders, names the server image by digest, and has its secrets where the cloud keeps them", async (cloud) => {
  const ud = await renderCloudUserData(cloud, images);
  expect(ud.userData.startsWith("#cloud-config\n")).toBe(true);
  expect(parse(ud.userData)).toHaveProperty("write_files");
  expect(ud.userData).toContain(images.serverDigest);
  expect(ud.token).toHaveLength(48);
  // AWS and GCP fetch the env file at boot from their secret store; DigitalOcean has none.
  if (cloud === "digitalocean") expect(ud.secrets).toEqual({});
  else expect(Object.values(ud.secrets).join("\n")).toContain(`SYNC_TOKEN=${ud.token}`);
});
