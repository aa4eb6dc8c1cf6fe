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

/**
 * Fails at once, and powers the VM off, when its kernel panicked: a panicked guest hangs
 * with qemu still up, and waiting out the timeout would only hide the cause.
 */
export function failOnPanic(vm: Vm, what: string): void {
  const panic = vm.panic();
  if (!panic) return;
  vm.kill();
  throw new GuestPanic(`${vm.opts.name}: the guest kernel panicked while waiting for ${what} ("${panic}"); the oops is in ${vm.console}`);
}

export class GuestPanic extends Error {}

/**
 * Runs a boot step again, once, when the guest kernel panicked in it. Under qemu 7.2's
 * multi-threaded TCG, a guest kernel patching its own text (static keys, while Docker
 * came up) once ran a stale int3 and panicked (CI, 2026-11-26; about one boot in a
 * hundred here): a fault of the emulator, which a cloud VM does not have. Single-threaded
 * TCG avoids it, but made every boot 1.7 times slower (a DigitalOcean first boot mounted
 * its volume at 339 s instead of 197). The retry is logged; a second panic fails the step,
 * and any other failure fails it at once.
 */
export async function retryOnPanic<T>(what: string, step: () => Promise<T>, beforeRetry: () => Promise<void>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof GuestPanic)) throw err;
    log(`${what}: ${err.message}. Booting again, once.`);
    await beforeRetry();
    return await step();
  }
}

/** Polls the reporter until pred holds; fails at once if the VM powers off or its kernel panics. */
export async function waitState(vm: Vm, what: string, pred: (s: Record<string, string>) => boolean, timeoutMs: number): Promise<Record<string, string>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, string> | undefined;
  for (;;) {
    last = vm.state();
    if (last && pred(last)) return last;
    if (!vm.running) throw new Error(`${vm.opts.name} powered off while waiting for ${what}; last state ${JSON.stringify(last)}; see ${vm.console}`);
    failOnPanic(vm, what);
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

/**
 * The server's log for this boot once it has said `listening`, which it logs after its
 * migrations and its db load. The reporter relays `docker logs -f` in the background, so
 * under TCG those lines can reach the console after the report that said the stack is
 * healthy: a CI run read the log at that moment and found no "migrations applied" that
 * the console held a moment later.
 */
export async function serverLogOnceListening(vm: Vm, timeoutMs = 120_000): Promise<Msg[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = serverLog(vm);
    if (log.some((m) => m.msg === "listening")) return log;
    if (Date.now() > deadline) throw new Error(`${vm.opts.name}: the server's log (docker logs -f, relayed) never said "listening" within ${seconds(timeoutMs)}; see ${vm.console}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
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
    failOnPanic(vm, "/healthz through Caddy");
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
