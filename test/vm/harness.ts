/**
 * What the boot plan needs around a VM: waiting on the reporter's state, the guest's
 * logs as the reporter relays them, the host-side view of the data disk (e2fsprogs on
 * the raw file while the VM is off), and wss:// clients from this host through the
 * loopback hostfwd to Caddy, trusting the Caddy local CA the guest reported.
 */
import { execFileSync } from "node:child_process";
import dns from "node:dns";
import { Client, type Msg } from "../../server/test/helpers";
import type { Vm } from "./qemu";
import { VM_DOMAIN } from "./user-data";

/** The stack's hostname resolves to this host's loopback, where the VM's 443 is forwarded. */
const lookup = dns.lookup;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
(dns as any).lookup = function vmLookup(host: string, options: any, callback?: any) {
  if (host !== VM_DOMAIN) return (lookup as (...a: unknown[]) => unknown).apply(dns, [host, options, callback].filter((a) => a !== undefined));
  const cb = typeof options === "function" ? options : callback;
  const all = typeof options === "object" && options?.all;
  process.nextTick(() => (all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4)));
};

export const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

export function log(line: string): void {
  process.stdout.write(`vm: ${line}\n`);
}

/** Polls the reporter until pred holds; fails at once if the VM powers off. */
export async function waitState(vm: Vm, what: string, pred: (s: Record<string, string>) => boolean, timeoutMs: number): Promise<Record<string, string>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, string> | undefined;
  for (;;) {
    last = vm.state();
    if (last && pred(last)) return last;
    if (!vm.running) throw new Error(`${vm.opts.name} powered off while waiting for ${what}; last state ${JSON.stringify(last)}; see ${vm.console}`);
    if (Date.now() > deadline) throw new Error(`${vm.opts.name}: timed out after ${seconds(timeoutMs)} waiting for ${what}; last state ${JSON.stringify(last)}; logs: ${vm.report}, ${vm.console}`);
    await new Promise((r) => setTimeout(r, 3000));
  }
}

/** The reporter's lines with a prefix (VMCI, VMBYID, VMSERVER...) for this boot. */
export function lines(vm: Vm, prefix: string): string[] {
  // At the start of a line only: the kernel prints its own "VMCI host device registered".
  const tag = `${prefix} `;
  return vm.reportLines().filter((l) => l.startsWith(tag)).map((l) => l.slice(tag.length));
}

/** The product's volume script lines (its syslog tag, sync-volume) for this boot. */
export function volumeLog(vm: Vm): string[] {
  return lines(vm, "VMVOL")
    .filter((l) => / sync-volume(\[\d+\])?: /.test(l))
    .map((l) => l.replace(/^.*? sync-volume(\[\d+\])?: /, ""));
}

/** The server's own JSON log lines for this boot. */
export function serverLog(vm: Vm): Msg[] {
  return lines(vm, "VMSERVER").flatMap((l) => {
    try {
      return [JSON.parse(l.slice(l.indexOf("{"))) as Msg];
    } catch {
      return [];
    }
  });
}

export function caddyCa(vm: Vm): Buffer {
  const b64 = lines(vm, "VMCA").at(-1);
  if (!b64) throw new Error(`${vm.opts.name}: the guest never reported Caddy's local root certificate`);
  return Buffer.from(b64.trim(), "base64");
}

export function url(httpsPort: number): string {
  return `wss://${VM_DOMAIN}:${httpsPort}/ws`;
}

/**
 * /healthz through the hostfwd and Caddy, verified against the reported CA. The stack's
 * Caddy forwards only /ws and /healthz (a cloud deploy keeps /readyz and /metrics inside);
 * readiness itself is the container's health check, reported by the guest.
 */
export async function healthzThroughCaddy(vm: Vm, httpsPort: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let err = "";
  for (;;) {
    try {
      const ca = caddyCa(vm);
      const file = `${vm.opts.dir}/caddy-root.crt`;
      require("node:fs").writeFileSync(file, ca);
      const out = execFileSync("curl", ["-fsS", "--max-time", "20", "--cacert", file, "--resolve", `${VM_DOMAIN}:${httpsPort}:127.0.0.1`, `https://${VM_DOMAIN}:${httpsPort}/healthz`], { encoding: "utf8" });
      if (/^ok/.test(out)) return out.trim();
      err = out;
    } catch (e) {
      err = (e as Error).message;
    }
    if (!vm.running || Date.now() > deadline) throw new Error(`/healthz through Caddy never answered ok: ${err}`);
    await new Promise((r) => setTimeout(r, 3000));
  }
}

export async function connect(vm: Vm, httpsPort: number, token: string, name: string, since?: number): Promise<Client> {
  return Client.connect(url(httpsPort), name, since === undefined ? {} : { since }, { token, ca: caddyCa(vm) });
}

/** The newest tx id a client has applied. */
export const lastT = (c: Client) => Math.max(0, ...c.messages.filter((m: Msg) => ["tx", "snapshot", "synced", "welcome"].includes(m.type)).map((m: Msg) => m.t as number));

/** Superblock facts of the data disk, read on the host while the VM is off. */
export function superblock(file: string): { uuid: string; created: string; blocks: number; blockSize: number } {
  const out = execFileSync("dumpe2fs", ["-h", file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, "m").exec(out)?.[1]?.trim() ?? "";
  return { uuid: field("Filesystem UUID"), created: field("Filesystem created"), blocks: Number(field("Block count")), blockSize: Number(field("Block size")) };
}
