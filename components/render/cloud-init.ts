import { stringify } from "yaml";
import { METADATA_ADDRESS, MOUNT, type RegistryAuth, SERVER_STOP_SECONDS, STACK_DIR, STOP_ORDER } from "../spec";
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
  /** The server's secrets as an env file (0600); omitted where a preStart command fetches them at boot. */
  readonly envFile?: string;
  readonly registry: RegistryAuth;
  /** Extra files (scripts for provider-specific timers), by absolute path. */
  readonly files?: ReadonlyArray<{ readonly path: string; readonly content: string; readonly permissions: string }>;
  readonly units?: readonly ExtraUnit[];
  readonly extraPackages?: readonly string[];
  readonly volumeWaitSeconds?: number;
  /** Commands the stack unit runs before the compose pull (e.g. fetching secrets). Retried with it. */
  readonly preStart?: readonly string[];
}

const VOLUME_SCRIPT = "/usr/local/sbin/sync-volume-setup";
const LOGIN_SCRIPT = "/usr/local/sbin/sync-registry-login";
export const INSTALL_SCRIPT = "/usr/local/sbin/sync-install";
export const COMPOSE_WRAPPER = "/usr/local/sbin/sync-compose";
export const METADATA_BLOCK_SCRIPT = "/usr/local/sbin/sync-block-metadata";
export const STACK_UNIT = "sync-stack.service";
export const INSTALL_UNIT = "sync-install.service";
/** Every retry waits this long; no retry count: a VM waits for its network, apt mirror, registry and IAM grants as long as it takes. */
export const RETRY_SECONDS = 20;

/** apt waits for locks (unattended-upgrades on first boot) and retries downloads. */
export const APT_CONF = `// Written by the sync server's cloud-init.
Acquire::Retries "10";
DPkg::Lock::Timeout "600";
`;

/**
 * Installs what the stack needs with Debian's packages. A systemd unit, not cloud-init's
 * packages module: a failed apt run is retried by systemd until it succeeds, with no reboot.
 */
export function renderInstallScript(packages: readonly string[]): string {
  return `#!/bin/sh
# Rendered by components/render/cloud-init.ts. Retried by ${INSTALL_UNIT} until it succeeds.
set -eu
export DEBIAN_FRONTEND=noninteractive
missing=""
for p in ${packages.join(" ")}; do
  dpkg-query -W -f='\${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "sync-install: installing$missing"
  apt-get update
  apt-get install -y --no-install-recommends $missing
  systemctl daemon-reload
fi
# First boot: docker.service did not exist when cloud-init ran; start the stack now.
systemctl start docker.service
systemctl start --no-block ${STACK_UNIT}
`;
}

/**
 * Compose v2 (the docker CLI plugin, Debian 13's docker-compose) when present, else the
 * standalone docker-compose binary: the same compose file runs on either.
 */
export const COMPOSE_WRAPPER_SCRIPT = `#!/bin/sh
if docker compose version >/dev/null 2>&1; then exec docker compose "$@"; fi
exec docker-compose "$@"
`;

/**
 * Containers must not reach the cloud metadata service: it serves the VM's credentials
 * and user data. DOCKER-USER is the chain Docker leaves to the admin; it sees every
 * packet forwarded from a container. Idempotent: checked before inserting.
 */
export const METADATA_BLOCK = `#!/bin/sh
set -eu
rule="-d ${METADATA_ADDRESS}/32 -j REJECT --reject-with icmp-host-prohibited"
iptables -w -n -L DOCKER-USER >/dev/null 2>&1 || iptables -w -N DOCKER-USER
# shellcheck disable=SC2086
iptables -w -C DOCKER-USER $rule 2>/dev/null || iptables -w -I DOCKER-USER 1 $rule
`;

function stackUnit(hasLogin: boolean, preStart: readonly string[]): string {
  const compose = `${COMPOSE_WRAPPER} -p sync -f ${COMPOSE_FILE}`;
  return `[Unit]
Description=Sync server stack (server + Caddy), a compose project
# Ordered after docker: on shutdown systemd stops this unit first, so the server
# gets SIGTERM and its drain period before the engine goes away.
Requires=docker.service ${INSTALL_UNIT}
After=docker.service ${INSTALL_UNIT} network-online.target
Wants=network-online.target
# Retry for ever: a first boot can race the registry, IAM grants or the network.
StartLimitIntervalSec=0

[Service]
Type=oneshot
RemainAfterExit=yes
WorkingDirectory=${STACK_DIR}
ExecStartPre=${VOLUME_SCRIPT}
ExecStartPre=${METADATA_BLOCK_SCRIPT}
${[...preStart, ...(hasLogin ? [LOGIN_SCRIPT] : [])].map((c) => `ExecStartPre=${c}\n`).join("")}ExecStartPre=${compose} pull --quiet
ExecStart=${compose} up -d --remove-orphans
${STOP_ORDER.map((service) => `ExecStop=${compose} stop --timeout ${SERVER_STOP_SECONDS} ${service}`).join("\n")}
Restart=on-failure
RestartSec=${RETRY_SECONDS}
TimeoutStartSec=900
TimeoutStopSec=90

[Install]
WantedBy=multi-user.target
`;
}

function installUnit(): string {
  return `[Unit]
Description=Install the sync server's Debian packages (retried until apt succeeds)
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${INSTALL_SCRIPT}
Restart=on-failure
RestartSec=${RETRY_SECONDS}
TimeoutStartSec=1800

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
  // docker-cli: Debian 13's docker.io only recommends it, and apt runs with
  // --no-install-recommends; without it there is no `docker` command (login, exec, ps).
  const packages = ["docker.io", "docker-cli", "docker-compose", "ca-certificates", "curl", "iptables", "e2fsprogs", ...(spec.extraPackages ?? [])];
  const files: Array<Record<string, unknown>> = [
    { path: "/etc/apt/apt.conf.d/80-sync-retries", permissions: "0644", owner: "root:root", content: APT_CONF },
    { path: VOLUME_SCRIPT, permissions: "0755", owner: "root:root", content: renderVolumeScript({ devicePaths: spec.devicePaths, waitSeconds: spec.volumeWaitSeconds }) },
    { path: COMPOSE_WRAPPER, permissions: "0755", owner: "root:root", content: COMPOSE_WRAPPER_SCRIPT },
    { path: METADATA_BLOCK_SCRIPT, permissions: "0755", owner: "root:root", content: METADATA_BLOCK },
    { path: COMPOSE_FILE, permissions: "0644", owner: "root:root", content: spec.composeYaml },
    { path: CADDYFILE, permissions: "0644", owner: "root:root", content: spec.caddyfile },
    ...(spec.envFile === undefined ? [] : [{ path: ENV_FILE, permissions: "0600", owner: "root:root", content: spec.envFile }]),
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
  files.push({ path: INSTALL_SCRIPT, permissions: "0755", owner: "root:root", content: renderInstallScript(packages) });
  files.push({ path: `/etc/systemd/system/${INSTALL_UNIT}`, permissions: "0644", owner: "root:root", content: installUnit() });
  files.push({ path: `/etc/systemd/system/${STACK_UNIT}`, permissions: "0644", owner: "root:root", content: stackUnit(auth.kind === "login-command", spec.preStart ?? []) });
  // Docker restarts "unless-stopped" containers when it starts. After a crash or power
  // loss that must not happen before the volume is mounted, or the server would write
  // to an empty directory on the root disk.
  files.push({ path: "/etc/systemd/system/docker.service.d/10-wait-for-sync-volume.conf", permissions: "0644", owner: "root:root", content: `[Unit]\nRequiresMountsFor=${MOUNT}\n` });
  for (const unit of spec.units ?? []) files.push({ path: `/etc/systemd/system/${unit.name}`, permissions: "0644", owner: "root:root", content: unit.content });

  // Enabled for every later boot; on this one only the install unit starts (--no-block:
  // runcmd never fails or waits on a slow apt mirror). It starts docker and the stack
  // once the packages are in; systemd owns the retries.
  const timers = (spec.units ?? []).filter((u) => u.enable).map((u) => u.name);
  const enable = [INSTALL_UNIT, STACK_UNIT, ...timers];
  const config = {
    write_files: files,
    runcmd: [
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", ...enable],
      ["systemctl", "start", "--no-block", INSTALL_UNIT, ...timers],
    ],
  };
  return `#cloud-config\n${stringify(config, { lineWidth: 0 })}`;
}
