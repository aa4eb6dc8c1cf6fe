import { z } from "zod";
import { snapshotIdProblem } from "./snapshot-id";

/** The Pulumi project name, which is also the config namespace: `athens-sync:<key>`. */
export const PROJECT = "athens-sync";

export const PROVIDERS = ["aws", "digitalocean", "gcp", "docker"] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/**
 * Caddy 2.11.4 by digest (Docker Hub's library/caddy). The digest is the one public
 * repositories pin for that tag; `pulumi up` copies it into the stack's registry.
 */
export const DEFAULT_CADDY_IMAGE = "caddy:2.11.4@sha256:844f60b64e4724a5aa8245e019dace0d3f199f7433ce6c57676cb30a920dbad9";

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
// The server refuses a bare number (it was once read as seconds while documented as ms).
const DURATION = /^(\d+(ms|s|m|h|d)|off)$/;

/** An IPv4 CIDR written canonically: no leading zeros, no host bits set (203.0.113.0/24, not 203.0.113.7/24). */
function isCidr(text: string): boolean {
  const match = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\/(0|[1-9]\d?)$/.exec(text);
  if (!match) return false;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (!octets.every((o) => o <= 255) || prefix > 32) return false;
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const hostBits = 2 ** (32 - prefix);
  return address % hostBits === 0;
}

/**
 * SSH from more than a /8 is SSH from the internet: 0.0.0.0/0 was refused as text while
 * 0.0.0.0/1 plus 128.0.0.0/1, or 10.0.0.0/0, opened the same (found by a hostile review).
 */
const MIN_SSH_PREFIX = 8;

/**
 * Characters compose's env_file would change in an unquoted value: v2 interpolates `$`,
 * cuts a ` #` comment and strips quotes, v1 keeps quotes. A secret bound for the env file
 * may not hold them (render/compose.ts refuses any such value too).
 */
export const ENV_FILE_UNSAFE = /[\s$#'"`\\]/;
/** Cloud region and zone names: lowercase letters, digits and dashes (us-east-1, fra1, europe-west1-b). */
const LOCATION = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** The docker provider's host ports when httpPort and httpsPort are unset. */
export const DEFAULT_HTTP_PORT = 80;
export const DEFAULT_HTTPS_PORT = 443;

const limits = z.strictObject({
  maxFrameBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  maxTxDatoms: z.number().int().min(1).max(1_000_000).default(10_000),
  maxConnections: z.number().int().min(1).max(1_000_000).default(1000),
  rateLimit: z.number().int().min(1).max(1_000_000).default(200),
});

/**
 * The whole stack config, with defaults. Every key is documented in the README's
 * config table; `parseConfig` is the only reader.
 */
export const ConfigSchema = z
  .strictObject({
    provider: z.enum(PROVIDERS, { message: `must be one of ${PROVIDERS.join(", ")}` }),
    domain: z
      .string()
      .toLowerCase()
      .regex(HOSTNAME, "must be a fully qualified hostname such as sync.example.com (no scheme, no trailing dot)")
      .optional(),
    dnsZone: z.string().min(1).optional(),
    region: z.string().regex(LOCATION, "must be the cloud's region name, such as us-east-1, fra1 or europe-west1").optional(),
    zone: z.string().regex(LOCATION, "must be the cloud's zone name, such as us-east-1a or europe-west1-b").optional(),
    instanceSize: z.string().min(1).optional(),
    volumeSizeGb: z.number().int().min(1, "must be at least 1 (GB)").max(16_384, "must be at most 16384 (GB)").default(20),
    snapshotSchedule: z.enum(["daily", "hourly"], { message: 'must be "daily" or "hourly"' }).default("daily"),
    snapshotRetain: z.number().int().min(1, "must keep at least 1 snapshot").max(1000).default(7),
    acmeEmail: z.email("must be an email address, for Let's Encrypt expiry notices").optional(),
    tls: z.enum(["acme", "internal"], { message: 'must be "acme" (public certificates) or "internal" (Caddy\'s local CA)' }).optional(),
    backupInterval: z.string().regex(DURATION, "must be a duration with a unit, such as 30m, 6h or 1d, or off").default("6h"),
    backupKeep: z.number().int().min(1).max(10_000).default(7),
    limits: limits.default(limits.parse({})),
    sshCidrs: z
      .array(
        z
          .string()
          .refine(isCidr, "must be an IPv4 CIDR written as its network, such as 203.0.113.7/32 or 198.51.100.0/24 (no leading zeros, no host bits)")
          .refine((cidr) => !isCidr(cidr) || Number(cidr.split("/")[1]) >= MIN_SSH_PREFIX, `is wider than /${MIN_SSH_PREFIX}, which opens SSH to a large part of the internet (0.0.0.0/0 to all of it); list your own CIDRs, or use the provider's console/SSM`),
      )
      .default([]),
    /**
     * Caddy, pinned by digest. On the clouds it is copied into the stack's own registry at
     * deploy time, so a VM never pulls from Docker Hub. Point it at a mirror to deploy air-gapped.
     */
    caddyImage: z.string().min(1).default(DEFAULT_CADDY_IMAGE),
    /** The server's base image, used only where the image is built (your machine). */
    nodeImage: z.string().min(1).default("node:26-trixie-slim"),
    /**
     * An existing network to deploy into: an AWS subnet id (subnet-…), a GCP network name or
     * self-link, or a DigitalOcean VPC uuid. Omitted: the stack creates its own network.
     */
    network: z.string().min(1).optional(),
    /**
     * DigitalOcean only: an existing container registry's name. An account has one registry;
     * a second stack in the same account must name the first one's registry here.
     */
    containerRegistry: z.string().regex(/^[a-z0-9-]{1,63}$/, "must be the registry's name: lowercase letters, digits and dashes").optional(),
    /** Docker provider only (a VM's Caddy serves 80 and 443): the host ports; unset, DEFAULT_HTTP_PORT and DEFAULT_HTTPS_PORT. */
    httpPort: z.number().int().min(1).max(65535).optional(),
    httpsPort: z.number().int().min(1).max(65535).optional(),
    /** DigitalOcean API token used by the on-VM snapshot job (secret). */
    doSnapshotToken: z
      .string()
      .min(20, "must be a DigitalOcean API token (see README for its scope)")
      .regex(/^[A-Za-z0-9_]+$/, "must be a DigitalOcean API token (letters, digits and _, such as dop_v1_…); the snapshot job's shell reads it")
      .optional(),
    jwtSecret: z
      .string()
      .min(32, "must be at least 32 characters for HS256")
      .refine((s) => !ENV_FILE_UNSAFE.test(s), "may not hold $, #, quotes, backslashes or whitespace, which the VM's env file would change (generate one with `openssl rand -base64 48`)")
      .optional(),
    /**
     * A volume snapshot id to restore from: the stack creates a new data volume from it,
     * attaches it in place of the current one and keeps the old one (never deleted).
     * Checked per cloud in superRefine (components/snapshot-id.ts).
     */
    restoreFromSnapshot: z
      // A text key (TEXT_KEYS): parseConfig hands it over as text; a number can come only from a direct caller.
      .preprocess((v) => (typeof v === "number" ? String(v) : v), z.string().trim().min(1, "must be a snapshot id; to go back to the original volume, remove the key (`pulumi config rm athens-sync:restoreFromSnapshot`)"))
      .optional(),
  })
  .superRefine((c, ctx) => {
    if (c.dnsZone && !c.domain) {
      ctx.addIssue({ code: "custom", path: ["domain"], message: "is required when dnsZone is set: the record to create in that zone, e.g. sync.example.com" });
    }
    // On GCP dnsZone names a Cloud DNS managed zone; elsewhere it is the DNS name itself.
    if (c.dnsZone && c.domain && c.provider !== "gcp" && c.domain !== c.dnsZone && !c.domain.endsWith(`.${c.dnsZone}`)) {
      ctx.addIssue({ code: "custom", path: ["domain"], message: `must be inside dnsZone ${c.dnsZone}, e.g. sync.${c.dnsZone}` });
    }
    if (c.provider === "digitalocean" && !c.doSnapshotToken) {
      ctx.addIssue({ code: "custom", path: ["doSnapshotToken"], message: "is required on DigitalOcean for scheduled volume snapshots; set it with `pulumi config set --secret doSnapshotToken <token>`" });
    }
    if (c.containerRegistry && c.provider !== "digitalocean") {
      ctx.addIssue({ code: "custom", path: ["containerRegistry"], message: "is read only on DigitalOcean; remove it" });
    }
    if (c.network && c.provider === "docker") {
      ctx.addIssue({ code: "custom", path: ["network"], message: "is not used by the local docker provider; remove it" });
    }
    if (c.network && c.provider === "aws" && !/^subnet-[0-9a-f]+$/.test(c.network)) {
      ctx.addIssue({ code: "custom", path: ["network"], message: "on AWS must be a subnet id such as subnet-0123abcd (a public subnet in the zone you deploy to)" });
    }
    if (c.restoreFromSnapshot !== undefined) {
      const problem = snapshotIdProblem(c.provider, c.restoreFromSnapshot);
      if (problem) ctx.addIssue({ code: "custom", path: ["restoreFromSnapshot"], message: problem });
    }
    if (c.provider === "docker" && c.dnsZone) {
      ctx.addIssue({ code: "custom", path: ["dnsZone"], message: "is not used by the local docker provider; remove it" });
    }
    for (const key of ["httpPort", "httpsPort"] as const) {
      if (c[key] !== undefined && c.provider !== "docker") {
        ctx.addIssue({ code: "custom", path: [key], message: "is read only by the local docker provider (on a VM, Caddy serves 80 and 443); remove it" });
      }
    }
    // Both are published on the host: the second would fail to bind only at deploy time.
    const [http, https] = [c.httpPort ?? DEFAULT_HTTP_PORT, c.httpsPort ?? DEFAULT_HTTPS_PORT];
    if (c.provider === "docker" && http === https) {
      ctx.addIssue({ code: "custom", path: ["httpsPort"], message: `must differ from httpPort (both are ${https}): each is published on this machine; e.g. httpPort 8080 and httpsPort 8443` });
    }
  });

export type StackConfig = z.output<typeof ConfigSchema>;

export class StackConfigError extends Error {
  override readonly name = "StackConfigError";
}

/**
 * Parses raw config values (as strings, the way Pulumi stores them; structured values
 * are JSON) into a StackConfig. Throws one error listing every bad key with its fix,
 * before any resource is declared.
 */
export function parseConfig(raw: Readonly<Record<string, string>>): StackConfig {
  const values: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(raw)) values[key] = TEXT_KEYS.has(key) ? text : coerce(text);
  const parsed = ConfigSchema.safeParse(values);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((k) => `  ${PROJECT}:${[...issue.path, k].join(".")}: unknown key; see the README's config table for the keys this stack reads`)
      : [`  ${PROJECT}:${issue.path.join(".") || "(config)"}: ${issue.message}`],
  );
  throw new StackConfigError(`invalid stack config:\n${lines.join("\n")}`);
}

/** The schema a key's value must finally satisfy, under optional(), default() and preprocess(). */
function innermost(schema: z.ZodType): z.ZodType {
  const def = schema._zod.def as { type: string; innerType?: z.ZodType; out?: z.ZodType };
  if ((def.type === "optional" || def.type === "default") && def.innerType) return innermost(def.innerType);
  if (def.type === "pipe" && def.out) return innermost(def.out);
  return schema;
}

/**
 * Keys whose value is text: Pulumi's string is kept as it is, even when it looks like JSON.
 * Read as JSON, a digits-only jwtSecret became a number (and lost digits past 2^53), then
 * failed as "expected string, received number", naming no fix.
 */
export const TEXT_KEYS: ReadonlySet<string> = new Set(
  Object.entries(ConfigSchema.shape)
    .filter(([, schema]) => innermost(schema as z.ZodType)._zod.def.type === "string")
    .map(([key]) => key),
);

/** Pulumi keeps every value as a string; numbers, booleans, lists and objects arrive as JSON. */
function coerce(text: string): unknown {
  const trimmed = text.trim();
  if (/^(-?\d+(\.\d+)?|true|false|\[.*\]|\{.*\})$/s.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return text;
    }
  }
  return text;
}

/** Our namespace's keys out of `pulumi.runtime.allConfig()` ("athens-sync:key" → "key"). */
export function projectConfig(all: Readonly<Record<string, string>>): Record<string, string> {
  const prefix = `${PROJECT}:`;
  return Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}
