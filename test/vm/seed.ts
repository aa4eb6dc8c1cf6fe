/**
 * The NoCloud seed for one boot: the product's user data verbatim as the first MIME
 * part, and the harness's state reporter as a second, separate part. The reporter only
 * reads state (cloud-init status, the stack unit, container health, the mount, the
 * volume script's log) and writes it, prefixed, to the VM's console; it changes nothing.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** Runs at every boot (a boothook), starts the reporter as a transient unit. */
export const REPORTER = `#cloud-boothook
#!/bin/sh
# VM suite state reporter (test harness only). Reads state, writes it to the console.
cat >/run/vm-suite-report.sh <<'REPORT'
#!/bin/sh
out=/dev/console
say() { echo "$*" >"$out"; }
# The product's own log lines: the units' as they happen (install, stack, docker; one
# journalctl each, so no filter is combined with another), and the volume script's (its
# syslog tag, once each) read afresh on every round below, from a cursor, so each is
# relayed before the first report that shows the mount it led to (unless journald is
# still behind), and none hang on a follower started this early in the boot.
for unit in sync-install.service sync-stack.service docker.service; do
  journalctl -f -n all -o short-unix -u "$unit" 2>&1 | sed -u 's/^/VMLOG /' >"$out" &
done
said_ci="" ; said_ca="" ; said_id=""
while :; do
  journalctl -b -q -o short-unix -t sync-volume --no-pager --cursor-file=/run/vm-suite-vol.cursor 2>/dev/null | sed 's/^/VMVOL /' >"$out"
  ci=$(cloud-init status 2>/dev/null | sed -n 's/^status: //p')
  stack=$(systemctl is-active sync-stack.service 2>/dev/null)
  id=$(docker ps -q --filter label=com.docker.compose.service=sync 2>/dev/null | head -n 1)
  health=none
  [ -n "$id" ] && health=$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)
  # The request the container's health check makes, without starting a node process for it
  # (under TCG that start alone can exceed the check's 3 s timeout, and the status flaps).
  ready=no
  if [ -n "$id" ]; then
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$id" 2>/dev/null | cut -d' ' -f1)
    [ -n "$ip" ] && curl -fsS --max-time 10 "http://$ip:8080/readyz" 2>/dev/null | grep -q '^ready' && ready=yes
  fi
  if [ -n "$id" ] && [ "$id" != "$said_id" ]; then
    said_id=$id
    docker logs -f "$id" 2>&1 | sed -u 's/^/VMSERVER /' >"$out" &
  fi
  mnt=$(findmnt -n -o SOURCE /mnt/sync 2>/dev/null)
  size=$(df -B1 --output=size /mnt/sync 2>/dev/null | tail -n 1 | tr -d ' ')
  say "VMREPORT ci=\${ci:-none} stack=\${stack:-none} health=\${health:-none} ready=\${ready} mount=\${mnt:-none} fsbytes=\${size:-0} uptime=$(cut -d' ' -f1 /proc/uptime)"
  if [ "$ci" != "$said_ci" ] && { [ "$ci" = done ] || [ "$ci" = error ] || [ "$ci" = degraded ]; }; then
    said_ci=$ci
    cloud-init status --long 2>&1 | sed 's/^/VMCI /' >"$out"
    ls -l /dev/disk/by-id/ 2>&1 | sed 's/^/VMBYID /' >"$out"
  fi
  ca=/mnt/sync/caddy/caddy/pki/authorities/local/root.crt
  if [ -z "$said_ca" ] && [ -s "$ca" ]; then said_ca=1; say "VMCA $(base64 -w0 "$ca")"; fi
  sleep 5
done
REPORT
chmod 0755 /run/vm-suite-report.sh
# --no-block and no default dependencies: cloud-init is still running this boothook,
# before sysinit.target, so waiting for a normal unit here would deadlock the boot.
# /bin/sh runs it: /run is mounted noexec.
systemd-run --no-block -p DefaultDependencies=no --unit=vm-suite-report --collect /bin/sh /run/vm-suite-report.sh >/dev/null 2>&1 || true
`;

const BOUNDARY = "==vm-suite-boundary-7f3a==";

/**
 * For the AWS and GCP VMs: where the product's secret fetch (and GCP's registry login) find
 * the cloud's metadata server and secret store, i.e. this host's stand-in at `ip`. A
 * systemd drop-in for the stack unit sets the endpoint variables the scripts honour (AWS:
 * the AWS SDKs' own names; GCP: secret-fetch.ts's), written before cloud-init writes the
 * unit, at every boot. GCP's registry login asks metadata.google.internal by name, which
 * GCE's DNS answers; here /etc/hosts does. The product's user data is unchanged.
 */
export function cloudApiBoothook(cloud: "aws" | "gcp", ip: string): string {
  const env = cloud === "aws" ? { AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${ip}`, AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://${ip}` } : { SECRET_MANAGER_API: `http://${ip}` };
  const hosts = cloud === "gcp" ? `grep -q ' metadata.google.internal$' /etc/hosts || echo '${ip} metadata.google.internal' >>/etc/hosts\n` : "";
  return `#cloud-boothook
#!/bin/sh
# VM suite (test harness only): the cloud's APIs at the host's stand-in (test/${cloud}-stand-in.ts).
${hosts}mkdir -p /etc/systemd/system/sync-stack.service.d
cat >/etc/systemd/system/sync-stack.service.d/vm-suite-cloud-api.conf <<'CONF'
[Service]
${Object.entries(env).map(([k, v]) => `Environment=${k}=${v}`).join("\n")}
CONF
`;
}

export function multipart(userData: string, boothooks: readonly string[] = []): string {
  const part = (type: string, name: string, body: string) =>
    `--${BOUNDARY}\nContent-Type: ${type}; charset="utf-8"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename="${name}"\n\n${body}\n`;
  const type = userData.startsWith("#cloud-config") ? "text/cloud-config" : "text/x-shellscript";
  return `Content-Type: multipart/mixed; boundary="${BOUNDARY}"\nMIME-Version: 1.0\n\n${part(type, "product-user-data", userData)}${part("text/cloud-boothook", "vm-suite-reporter", REPORTER)}${boothooks.map((b, i) => part("text/cloud-boothook", `vm-suite-hook-${i}`, b)).join("")}--${BOUNDARY}--\n`;
}

/**
 * The network config a cloud's datasource hands cloud-init for an IPv4-only network
 * (EC2's IMDS, DigitalOcean's and GCE's metadata): DHCPv4 on the one NIC. Without it,
 * cloud-init's fallback also asks for DHCPv6, which ifupdown waits on (for minutes) where
 * no DHCPv6 server answers, as on qemu's user network. (Debian's cloud images render the
 * same config with netplan and systemd-networkd, which do not wait on it.)
 */
export const NETWORK_CONFIG = `version: 2
ethernets:
  eth0:
    dhcp4: true
    dhcp6: false
`;

/** Writes seed.img (cidata) for one VM; instanceId changes when the VM is replaced. */
export function writeSeed(dir: string, userData: string, instanceId: string, hostname: string, boothooks: readonly string[] = []): string {
  fs.mkdirSync(dir, { recursive: true });
  const ud = path.join(dir, "user-data");
  const md = path.join(dir, "meta-data");
  const seed = path.join(dir, "seed.img");
  fs.writeFileSync(ud, multipart(userData, boothooks));
  fs.writeFileSync(md, `instance-id: ${instanceId}\nlocal-hostname: ${hostname}\n`);
  const net = path.join(dir, "network-config");
  fs.writeFileSync(net, NETWORK_CONFIG);
  execFileSync("cloud-localds", ["--network-config", net, seed, ud, md]);
  return seed;
}
