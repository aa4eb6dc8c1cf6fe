import { containerSpec } from "../components/docker/from-compose";
import { renderCompose } from "../components/render/compose";

test("a compose service maps to docker run terms without losing lifecycle settings", () => {
  const compose = renderCompose({ image: "img@sha256:" + "1".repeat(64), caddyImage: "caddy:2.8", environment: { A: "1" }, envFile: "/etc/sync/server.env", caddyfile: "/etc/sync/Caddyfile" });
  const server = containerSpec(compose, "sync");
  expect(server).toMatchObject({ image: compose.services && "img@sha256:" + "1".repeat(64), env: { A: "1" }, restart: "unless-stopped", stopSignal: "SIGTERM", stopTimeout: 30, envFiles: ["/etc/sync/server.env"] });
  expect(server.volumes).toEqual([
    { source: "/mnt/sync/data", target: "/data", readOnly: false, named: false },
    { source: "/mnt/sync/backups", target: "/data/backups", readOnly: false, named: false },
  ]);
  const caddy = containerSpec(compose, "caddy");
  expect(caddy.ports).toEqual([{ external: 80, internal: 80 }, { external: 443, internal: 443 }]);
  expect(caddy.volumes[0]).toEqual({ source: "/etc/sync/Caddyfile", target: "/etc/caddy/Caddyfile", readOnly: true, named: false });
  expect(() => containerSpec(compose, "nope")).toThrow(/no service nope/);
});
