/**
 * Hostile config : the server's secrets reach it through compose's `env_file`
 * (/etc/sync/server.env on AWS and DigitalOcean inline, on GCP fetched from Secret
 * Manager; same renderEnvFile). renderEnvFile writes `KEY=value` unquoted, and compose
 * applies its env-file syntax to unquoted values (https://docs.docker.com/compose/env-file/,
 * compose-spec/compose-go dotenv/parser.go extractVarValue): `$VAR`/`${VAR}` are
 * interpolated (unset: empty), an inline `#` comment is cut, surrounding quotes are
 * stripped. The config accepts any jwtSecret of 32+ characters, so the server is handed a
 * different secret than the operator configured: truncated (the server refuses to boot)
 * or empty (the server drops an empty SYNC_* and runs with JWT auth off).
 */
import { parse } from "yaml";
import { parseConfig, StackConfigError } from "../components/config";
import { ENV_FILE } from "../components/render/compose";
import { renderVmUserData } from "../components/shared/user-data";
import { serverEnvironment } from "../components/spec";
import { loadConfig } from "../server/src/config";

const IMAGE = "registry.example/sync-server@sha256:" + "ab".repeat(32);

/** Interpolation as compose does it (template.Substitute): `$$` is `$`; an unset variable is empty. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, all: string, braced?: string, dflt?: string, bare?: string) => {
    if (all === "$") return "$";
    const name = braced ?? bare!;
    return env[name] ?? dflt ?? "";
  });
}

/** One env file read with compose's documented rules (https://docs.docker.com/compose/env-file/). */
function composeEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq).trim();
    const raw = line.slice(eq + 1).trimStart();
    let value: string;
    if (raw.startsWith("'")) {
      const m = /^'((?:\\'|[^'])*)'/.exec(raw);
      value = m ? m[1]!.replace(/\\'/g, "'") : raw;
    } else if (raw.startsWith('"')) {
      const m = /^"((?:\\"|[^"])*)"/.exec(raw);
      value = interpolate((m ? m[1]! : raw).replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\"), out);
    } else {
      // "Inline comments for unquoted values must be preceded with a space."
      value = interpolate(raw.replace(/\s+#.*$/, "").trimEnd(), out);
    }
    out[key] = value;
  }
  return out;
}

function serverEnvFileOf(userData: string): string {
  const doc = parse(userData.replace(/^#cloud-config\n/, "")) as { write_files: Array<{ path: string; content: string }> };
  const file = doc.write_files.find((f) => f.path === ENV_FILE);
  if (!file) throw new Error(`no ${ENV_FILE} in the user data`);
  return file.content;
}

/** The server's env file in a VM's rendered user data, read with compose's rules. */
function envFileAsComposeReadsIt(cfg: ReturnType<typeof parseConfig>): Record<string, string> {
  const userData = renderVmUserData(cfg, {
    image: IMAGE,
    caddyImage: "registry.example/caddy@sha256:" + "cd".repeat(32),
    hostname: "sync.example.com",
    secrets: { kind: "inline", token: "t".repeat(48), adminToken: "a".repeat(48) },
    devicePaths: ["/dev/disk/by-id/x"],
    registry: { kind: "none" },
  });
  return composeEnvFile(serverEnvFileOf(userData));
}

const SECRETS: Array<[string, string]> = [
  // A generated secret that happens to start with `$`: the whole value is one unset variable.
  ["starts with $", "$Kq7vX2mP9wL4nR8tY3zB6cF1hJ5dG0sA"],
  // `$` in the middle: everything after it is read as a variable name.
  ["has $ in the middle", "Kq7vX2mP9wL4nR8t$Y3zB6cF1hJ5dG0sAeU"],
  // A passphrase with a ` #`: cut as an inline comment.
  ["is a passphrase with ' #'", "correct horse battery staple #42 and more words"],
  // Wrapped in double quotes: compose strips them.
  ['is wrapped in "quotes"', '"Kq7vX2mP9wL4nR8tY3zB6cF1hJ5dG0sA"'],
];

test.each([["Kq7v!X2m@P9w%L4n^R8t&Y3z*B6c(F1h)J5d:G0s,A;e?U[i]o{p}a|"], ["Kq7vX2mP9wL4nR8tY3zB6cF1hJ5dG0sA+/=="]])("a jwtSecret with punctuation compose leaves alone (%s) is accepted and reaches the server exactly", (secret) => {
  const cfg = parseConfig({ provider: "aws", jwtSecret: secret });
  const env = envFileAsComposeReadsIt(cfg);
  expect(loadConfigOrError({ ...serverEnvironment(cfg, "test"), ...env })).toBe(secret);
});

describe.each(SECRETS)("a jwtSecret that %s", (_label, secret) => {
  test("is refused by the config, or reaches the server exactly as configured through the env file", () => {
    let cfg: ReturnType<typeof parseConfig>;
    try {
      cfg = parseConfig({ provider: "aws", jwtSecret: secret });
    } catch (err) {
      expect(err).toBeInstanceOf(StackConfigError);
      expect((err as Error).message).toMatch(/athens-sync:jwtSecret: /);
      return;
    }
    const env = envFileAsComposeReadsIt(cfg);
    // What the server then runs with (it drops empty SYNC_* values as unset).
    const server = loadConfigOrError({ ...serverEnvironment(cfg, "test"), ...env });
    expect({ SYNC_JWT_SECRET: env.SYNC_JWT_SECRET, serverJwtSecret: server }).toEqual({ SYNC_JWT_SECRET: secret, serverJwtSecret: secret });
  });
});

function loadConfigOrError(env: Record<string, string>): string | null {
  try {
    return loadConfig(env).jwtSecret;
  } catch (err) {
    return `server refuses to boot: ${(err as Error).message}`;
  }
}
