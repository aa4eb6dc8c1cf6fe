import { stringify } from "yaml";
import type { StackConfig } from "../config";
import { renderCaddyfile } from "../render/caddyfile";
import { type ExtraUnit, renderCloudInit } from "../render/cloud-init";
import { CADDYFILE, ENV_FILE, renderCompose, renderEnvFile } from "../render/compose";
import { type RegistryAuth, serverEnvironment, serverSecrets, STACK_DIR } from "../spec";

/** Plain, resolved values: call inside `pulumi.all([...]).apply(...)`. */
export interface VmStackValues {
  readonly image: string;
  /** Caddy by digest, from the stack's own registry (mirrored at deploy time). */
  readonly caddyImage: string;
  readonly hostname: string;
  /**
   * The server's secrets: inline (written to a 0600 file from user data), or fetched at
   * boot by `fetch` (a command that writes ENV_FILE) so user data carries none.
   */
  readonly secrets: { readonly kind: "inline"; readonly token: string; readonly adminToken: string } | { readonly kind: "fetch"; readonly command: string };
  readonly devicePaths: readonly string[];
  readonly registry: RegistryAuth;
  readonly files?: ReadonlyArray<{ readonly path: string; readonly content: string; readonly permissions: string }>;
  readonly units?: readonly ExtraUnit[];
  /** Debian packages the provider's extra files need (e.g. jq). */
  readonly extraPackages?: readonly string[];
}

/**
 * Where a VM that fetches its secrets at boot records the secret version it was created
 * for. Its only job is to be in the user data: a new version (a changed `jwtSecret`, a new
 * token) changes the user data, and the VM is replaced, as an inline env file would have
 * it, instead of running on with the old secret until some restart. The id names the
 * version, never its content. Operators can read which version a VM was made for.
 */
export function secretVersionFile(version: string): { path: string; content: string; permissions: string } {
  return { path: `${STACK_DIR}/secret-version`, permissions: "0644", content: `${version}\n` };
}

/** The short digest, as the server's build label in its logs. */
export function buildLabel(image: string): string {
  const digest = /sha256:([0-9a-f]{12})/.exec(image);
  return digest ? digest[1]! : "unknown";
}

/** Everything a VM needs, as one #cloud-config: the same renderers for every provider. */
export function renderVmUserData(cfg: StackConfig, v: VmStackValues): string {
  const caddyfile = renderCaddyfile({ hostname: v.hostname, tls: cfg.tls ?? "acme", acmeEmail: cfg.acmeEmail });
  const compose = renderCompose({
    image: v.image,
    caddyImage: v.caddyImage,
    environment: serverEnvironment(cfg, buildLabel(v.image)),
    envFile: ENV_FILE,
    caddyfile: CADDYFILE,
  });
  return renderCloudInit({
    devicePaths: v.devicePaths,
    composeYaml: stringify(compose),
    caddyfile,
    envFile: v.secrets.kind === "inline" ? renderEnvFile(serverSecrets(v.secrets.token, cfg.jwtSecret, v.secrets.adminToken)) : undefined,
    preStart: v.secrets.kind === "fetch" ? [v.secrets.command] : [],
    registry: v.registry,
    files: v.files,
    units: v.units,
    extraPackages: v.extraPackages,
  });
}
