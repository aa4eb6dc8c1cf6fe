import { stringify } from "yaml";
import { MOUNT, type RegistryAuth, SERVER_STOP_SECONDS, STACK_DIR, STOP_ORDER } from "../spec";
import { CADDYFILE, COMPOSE_FILE, ENV_FILE } from "./compose";
import { renderVolumeScript } from "./volume-script";

export interface ExtraUnit {
  /** systemd unit file name, e.g. "sync-snapshot.timer". */
  readonly name: string;
  readonly content: string;
  /** Enable and start it (timers); services triggered by a timer are not enabled. */
  readonly enable: boolean;
}

export interface CloudInitSpec {
  /** Stable by-id paths of the data volume; the first that appears is used. */
  readonly devicePaths: readonly string[];
  readonly composeYaml: string;
  readonly caddyfile: string;
  /** The server's secrets as an env file (0600). */
  readonly envFile: string;
  readonly registry: RegistryAuth;
  /** Extra files (scripts for provider-specific timers), by absolute path. */
  readonly files?: ReadonlyArray<{ readonly path: string; readonly content: string; readonly permissions: string }>;
  readonly units?: readonly ExtraUnit[];
  readonly extraPackages?: readonly string[];
  readonly volumeWaitSeconds?: number;
}

const VOLUME_SCRIPT = "/usr/local/sbin/sync-volume-setup";
const LOGIN_SCRIPT = "/usr/local/sbin/sync-registry-login";
export const STACK_UNIT = "sync-stack.service";
const COMPOSE = "/usr/bin/docker-compose";

function stackUnit(hasLogin: boolean): string {
  return `[Unit]
Description=Sync server stack (server + Caddy), docker-compose project
# Ordered after docker: on shutdown systemd stops this unit first, so the server
# gets SIGTERM and its drain period before the engine goes away.
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
WorkingDirectory=${STACK_DIR}
ExecStartPre=${VOLUME_SCRIPT}
${hasLogin ? `ExecStartPre=${LOGIN_SCRIPT}\n` : ""}ExecStart=${COMPOSE} -p sync -f ${COMPOSE_FILE} up -d --remove-orphans
${STOP_ORDER.map((service) => `ExecStop=${COMPOSE} -p sync -f ${COMPOSE_FILE} stop --timeout ${SERVER_STOP_SECONDS} ${service}`).join("\n")}
TimeoutStartSec=900
TimeoutStopSec=90

[Install]
WantedBy=multi-user.target
`;
}

/**
 * The #cloud-config every VM boots with: Debian's docker.io and docker-compose, the
 * data volume (waited for, formatted only if blank, mounted via fstab), the compose
 * file, Caddyfile and secrets, the registry login, and the stack as a systemd unit.
 * Pure: plain values in, text out.
 */
export function renderCloudInit(spec: CloudInitSpec): string {
  const packages = ["docker.io", "docker-compose", "ca-certificates", "curl", ...(spec.extraPackages ?? [])];
  const files: Array<Record<string, unknown>> = [
    { path: VOLUME_SCRIPT, permissions: "0755", owner: "root:root", content: renderVolumeScript({ devicePaths: spec.devicePaths, waitSeconds: spec.volumeWaitSeconds }) },
    { path: COMPOSE_FILE, permissions: "0644", owner: "root:root", content: spec.composeYaml },
    { path: CADDYFILE, permissions: "0644", owner: "root:root", content: spec.caddyfile },
    { path: ENV_FILE, permissions: "0600", owner: "root:root", content: spec.envFile },
  ];
  const auth = spec.registry;
  if (auth.kind === "docker-config") {
    files.push({ path: "/root/.docker/config.json", permissions: "0600", owner: "root:root", content: auth.json });
  } else if (auth.kind === "credential-helper") {
    packages.push(auth.package);
    files.push({ path: "/root/.docker/config.json", permissions: "0600", owner: "root:root", content: JSON.stringify({ credHelpers: { [auth.registry]: auth.helper } }, null, 2) });
  } else if (auth.kind === "login-command") {
    files.push({ path: LOGIN_SCRIPT, permissions: "0700", owner: "root:root", content: `#!/bin/sh\n# Refreshes the registry login before each start; short-lived tokens expire.\nset -eu\n${auth.command}\n` });
  }
  for (const f of spec.files ?? []) files.push({ path: f.path, permissions: f.permissions, owner: "root:root", content: f.content });
  files.push({ path: `/etc/systemd/system/${STACK_UNIT}`, permissions: "0644", owner: "root:root", content: stackUnit(auth.kind === "login-command") });
  // Docker restarts "unless-stopped" containers when it starts. After a crash or power
  // loss that must not happen before the volume is mounted, or the server would write
  // to an empty directory on the root disk.
  files.push({ path: "/etc/systemd/system/docker.service.d/10-wait-for-sync-volume.conf", permissions: "0644", owner: "root:root", content: `[Unit]\nRequiresMountsFor=${MOUNT}\n` });
  for (const unit of spec.units ?? []) files.push({ path: `/etc/systemd/system/${unit.name}`, permissions: "0644", owner: "root:root", content: unit.content });

  const enable = [STACK_UNIT, ...(spec.units ?? []).filter((u) => u.enable).map((u) => u.name)];
  const config = {
    package_update: true,
    packages,
    write_files: files,
    runcmd: [
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "docker.service"],
      ...enable.map((unit) => ["systemctl", "enable", "--now", unit]),
    ],
  };
  return `#cloud-config\n${stringify(config, { lineWidth: 0 })}`;
}
