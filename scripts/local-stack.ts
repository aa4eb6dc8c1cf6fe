/**
 * Renders the VM's stack (compose file, Caddyfile, env file) for this machine, with a
 * local directory standing in for the block volume. Used by `npm run local` and by the
 * e2e suite, so both run exactly what a VM runs.
 *
 *   tsx scripts/local-stack.ts --dir .local-stack --image <image> [--https-port 8443]
 *   tsx scripts/local-stack.ts --defaults     the default official base images
 * The command line (`npm run local`) also turns on the demo outliner (SYNC_DEMO=1; the
 * image carries it) and prints its URL; the e2e suite renders the plain VM stack.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { parseConfig } from "../components/config";
import { renderCaddyfile } from "../components/render/caddyfile";
import { renderCompose, renderEnvFile } from "../components/render/compose";
import { PUBLIC_PATHS, SERVER_UID, serverEnvironment, serverSecrets } from "../components/spec";

/**
 * What the demo outliner loads: the files client/build.mjs puts in dist/demo, which the
 * server serves at / with SYNC_DEMO=1. Caddy forwards only listed paths; these join them.
 */
export const DEMO_PATHS = ["/", "/index.html", "/app.js", "/style.css"] as const;

export interface LocalStackOptions {
  readonly dir: string;
  readonly image: string;
  readonly caddyImage?: string;
  readonly hostname?: string;
  readonly httpPort?: number;
  readonly httpsPort?: number;
  /** Extra server environment (e.g. a short SYNC_BACKUP_INTERVAL in tests). */
  readonly environment?: Readonly<Record<string, string>>;
  readonly token?: string;
  /** SYNC_ADMIN_TOKEN for the /admin/* endpoints; generated (and kept in etc/admin-token) when omitted. */
  readonly adminToken?: string;
  readonly build?: string;
  /** Serve the demo outliner at / (SYNC_DEMO=1, and Caddy forwards DEMO_PATHS). */
  readonly demo?: boolean;
}

export interface LocalStack {
  readonly composeFile: string;
  readonly caddyfile: string;
  readonly envFile: string;
  readonly volume: string;
  readonly token: string;
  readonly adminToken: string;
  readonly url: string;
  /** Caddy's local root certificate, once Caddy has started. */
  readonly caCert: string;
  /** The demo page with the token in its fragment (never sent to the server), when `demo` is set. */
  readonly demoUrl?: string;
}

export function renderLocalStack(opts: LocalStackOptions): LocalStack {
  const dir = path.resolve(opts.dir);
  const etc = path.join(dir, "etc");
  const volume = path.join(dir, "volume");
  const dirs = { data: path.join(volume, "data"), backups: path.join(volume, "backups"), caddy: path.join(volume, "caddy") };
  fs.mkdirSync(etc, { recursive: true });
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  // The server runs as uid 1000, as on the VMs (where the volume script does this).
  for (const d of [dirs.data, dirs.backups]) {
    if (process.getuid?.() === 0) fs.chownSync(d, SERVER_UID, SERVER_UID);
    else fs.chmodSync(d, 0o777);
  }
  // The stack config's own checks (range, the two ports apart) with this script's defaults.
  const config = parseConfig({
    provider: "docker",
    tls: "internal",
    httpPort: String(opts.httpPort ?? 8080),
    httpsPort: String(opts.httpsPort ?? 8443),
    ...(opts.caddyImage ? { caddyImage: opts.caddyImage } : {}),
  });
  const hostname = opts.hostname ?? "localhost";
  const httpsPort = config.httpsPort!;
  const envFilePath = path.join(etc, "server.env");
  const tokenFile = path.join(etc, "token");
  const token = opts.token ?? (fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, "utf8").trim() : crypto.randomBytes(24).toString("hex"));
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  // Its own token, as every stack has (components/shared/token.ts): the access token never opens /admin/*.
  const adminTokenFile = path.join(etc, "admin-token");
  const adminToken = opts.adminToken ?? (fs.existsSync(adminTokenFile) ? fs.readFileSync(adminTokenFile, "utf8").trim() : crypto.randomBytes(24).toString("hex"));
  fs.writeFileSync(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
  fs.writeFileSync(envFilePath, renderEnvFile(serverSecrets(token, undefined, adminToken)), { mode: 0o600 });
  const caddyfile = path.join(etc, "Caddyfile");
  // The redirect from HTTP must keep the published HTTPS port (e.g. :8443), not assume 443.
  fs.writeFileSync(caddyfile, renderCaddyfile({ hostname, tls: "internal", publicHttpsPort: httpsPort, ...(opts.demo ? { publicPaths: [...PUBLIC_PATHS, ...DEMO_PATHS] } : {}) }));
  const compose = renderCompose({
    image: opts.image,
    caddyImage: config.caddyImage,
    environment: { ...serverEnvironment(config, opts.build ?? "local"), ...(opts.demo ? { SYNC_DEMO: "1" } : {}), ...(opts.environment ?? {}) },
    envFile: envFilePath,
    caddyfile,
    dirs,
    ports: { http: config.httpPort!, https: httpsPort },
  });
  const composeFile = path.join(etc, "compose.yaml");
  fs.writeFileSync(composeFile, stringify(compose));
  const origin = `https://${hostname}${httpsPort === 443 ? "" : `:${httpsPort}`}`;
  return {
    composeFile,
    caddyfile,
    envFile: envFilePath,
    volume,
    token,
    adminToken,
    url: `wss://${hostname}${httpsPort === 443 ? "" : `:${httpsPort}`}/ws`,
    caCert: path.join(dirs.caddy, "caddy", "pki", "authorities", "local", "root.crt"),
    ...(opts.demo ? { demoUrl: `${origin}/#token=${token}&name=you` } : {}),
  };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (require.main === module && process.argv.includes("--defaults")) {
  // The official base images a deploy uses unless configured otherwise (components/config.ts).
  const config = parseConfig({ provider: "docker" });
  process.stdout.write(`DEFAULT_NODE_IMAGE=${config.nodeImage}\nDEFAULT_CADDY_IMAGE=${config.caddyImage}\n`);
} else if (require.main === module) {
  const image = arg("image");
  if (!image) {
    process.stderr.write("usage: tsx scripts/local-stack.ts --dir DIR --image IMAGE [--https-port N] [--http-port N] [--caddy-image IMAGE]\n");
    process.exit(2);
  }
  const stack = renderLocalStack({
    dir: arg("dir") ?? ".local-stack",
    image,
    caddyImage: arg("caddy-image"),
    httpsPort: arg("https-port") ? Number(arg("https-port")) : undefined,
    httpPort: arg("http-port") ? Number(arg("http-port")) : undefined,
    demo: true,
  });
  process.stdout.write(`COMPOSE_FILE=${stack.composeFile}\nSYNC_URL=${stack.url}\nSYNC_TOKEN=${stack.token}\nSYNC_ADMIN_TOKEN=${stack.adminToken}\nCA_CERT=${stack.caCert}\nDEMO_URL='${stack.demoUrl}'\n`);
}
