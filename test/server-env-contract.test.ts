/**
 * The contract between the deploy and the server it runs: every environment the
 * components render must be accepted by the server's own config parser. Without this,
 * a server-side rule (e.g. "sizes carry a unit") can stop every deployed server at boot
 * while both sides' tests stay green.
 */
import { parseConfig } from "../components/config";
import { serverEnvironment, serverSecrets } from "../components/spec";
import { loadConfig } from "../server/src/config";

const TOKEN = "t".repeat(48);

test.each([
  ["defaults", { provider: "docker" }],
  ["every limit set", { provider: "aws", limits: JSON.stringify({ maxFrameBytes: 4096, maxTxDatoms: 50, maxConnections: 10, rateLimit: 20 }), backupInterval: "15m", backupKeep: "3" }],
])("the rendered server environment (%s) boots the server's config parser", (_label, raw) => {
  const cfg = parseConfig(raw as Record<string, string>);
  // Every stack now renders SYNC_ADMIN_TOKEN (the /admin/* endpoints): the server must accept it.
  const env = { ...serverEnvironment(cfg, "test"), ...serverSecrets(TOKEN, "j".repeat(40), "a".repeat(48)) };
  const server = loadConfig(env);
  expect(server.limits.maxFrameBytes).toBe(cfg.limits.maxFrameBytes);
  expect(server.limits.maxTxDatoms).toBe(cfg.limits.maxTxDatoms);
  expect(server.token).toBe(TOKEN);
});

test("a duration the server would refuse is refused by the stack config first", () => {
  expect(() => parseConfig({ provider: "docker", backupInterval: "3600" })).toThrow(/athens-sync:backupInterval: /);
  expect(() => parseConfig({ provider: "docker", backupInterval: "90x" })).toThrow(/athens-sync:backupInterval: must be a duration with a unit/);
});
