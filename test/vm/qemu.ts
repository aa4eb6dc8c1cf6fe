/**
 * One qemu VM under TCG (/dev/kvm here is PVM and cannot run a stock kernel): the
 * image's kernel and initrd, a fresh qcow2 overlay as the root disk (a new overlay is a
 * replaced VM), the NoCloud seed, a data disk shaped like the cloud's volume, and
 * user networking with restrict=on, so the guest reaches nothing but the apt cache and
 * the registry on this host's loopback (guestfwd), and its 443 is reachable from here
 * only through a loopback hostfwd.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Cloud } from "./user-data";

/** Addresses inside the guest's user network that forward to host loopback services. */
export const GUEST_APT = { ip: "10.0.2.100", port: 3142 };
export const GUEST_REGISTRY = { ip: "10.0.2.101", port: 5000 };
/**
 * The cloud's metadata server and secret store, as the AWS and GCP VMs reach their
 * stand-in on this host (test/aws-stand-in.ts, test/gcp-stand-in.ts).
 */
export const GUEST_CLOUD_API = { ip: "10.0.2.102", port: 80 };

export interface DataDisk {
  readonly file: string;
  readonly cloud: Cloud;
  /** EBS volume id, DO volume name or GCE device name. */
  readonly name: string;
}

/** qemu arguments that make the data disk look like this cloud's volume to udev. */
export function dataDiskArgs(disk: DataDisk): string[] {
  const drive = ["-drive", `file=${disk.file},if=none,id=data,format=raw,cache=unsafe`];
  if (disk.cloud === "aws") {
    // Nitro: an NVMe controller per EBS volume, serial = the volume id without its dash.
    return [...drive, "-device", `nvme,drive=data,serial=${disk.name.replace("-", "")}`];
  }
  const scsi = ["-device", "virtio-scsi-pci,id=scsi0"];
  if (disk.cloud === "digitalocean") {
    // DigitalOcean: SCSI, vendor DO, product Volume, the volume name as device id -> scsi-0DO_Volume_<name>.
    return [...scsi, ...drive, "-device", `scsi-hd,bus=scsi0.0,drive=data,vendor=DO,product=Volume,device_id=${disk.name}`];
  }
  // GCE: SCSI PersistentDisk whose serial is the device name (the google-<name> rule reads it).
  return [...scsi, ...drive, "-device", `scsi-hd,bus=scsi0.0,drive=data,vendor=Google,product=PersistentDisk,serial=${disk.name}`];
}

export interface VmOptions {
  readonly name: string;
  readonly dir: string;
  readonly imageDir: string;
  readonly overlay: string;
  readonly seed: string;
  readonly disk: DataDisk;
  /** Host loopback ports; `cloudApi`, when set, is the cloud's stand-in the guest reaches at GUEST_CLOUD_API. */
  readonly ports: { readonly apt: number; readonly registry: number; readonly https: number; readonly cloudApi?: number };
  readonly memoryMiB?: number;
}

export function newOverlay(imageDir: string, file: string): string {
  fs.rmSync(file, { force: true });
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", path.join(imageDir, "root.qcow2"), file]);
  return file;
}

export class Vm {
  readonly console: string;
  readonly report: string;
  private child?: ChildProcess;
  private exit?: Promise<number | null>;
  startedAt = 0;
  private readonly qmp: string;

  constructor(readonly opts: VmOptions) {
    fs.mkdirSync(opts.dir, { recursive: true });
    this.console = path.join(opts.dir, "console.log");
    // The reporter writes to the console too (a second serial port stayed silent under TCG).
    this.report = this.console;
    this.qmp = path.join(opts.dir, "qmp.sock");
  }

  args(): string[] {
    const { imageDir, overlay, seed, disk, ports } = this.opts;
    // guestfwd cmd: spawns one forwarder per guest connection (a chardev would carry only one).
    const fwd = (g: { ip: string; port: number }, hostPort: number) => `guestfwd=tcp:${g.ip}:${g.port}-cmd:socat STDIO TCP:127.0.0.1:${hostPort}`;
    // The registry also on 80 and 443: the guest resolves DigitalOcean's and GCP's registry
    // names to its address (scripts/vm/guest-image.sh), and Docker tries 443, then 80.
    const registry = [GUEST_REGISTRY.port, 80, 443].map((port) => fwd({ ip: GUEST_REGISTRY.ip, port }, ports.registry));
    const cloudApi = ports.cloudApi === undefined ? [] : [fwd(GUEST_CLOUD_API, ports.cloudApi)];
    const netdev = ["user", "id=n0", "restrict=on", `hostfwd=tcp:127.0.0.1:${ports.https}-:443`, fwd(GUEST_APT, ports.apt), ...registry, ...cloudApi].join(",");
    return [
      // Multi-threaded TCG: a thread per vCPU. It once let the guest kernel panic on a stale
      // int3 (see retryOnPanic in harness.ts); single-threaded TCG made boots 1.7x slower.
      "-machine", "q35,accel=tcg",
      "-cpu", "max",
      "-smp", "2",
      "-m", String(this.opts.memoryMiB ?? 2048),
      "-kernel", path.join(imageDir, "vmlinuz"),
      "-initrd", path.join(imageDir, "initrd.img"),
      "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0",
      "-drive", `file=${overlay},if=virtio,format=qcow2,cache=unsafe`,
      "-drive", `file=${seed},if=virtio,format=raw,readonly=on`,
      ...dataDiskArgs(disk),
      "-netdev", netdev,
      "-device", "virtio-net-pci,netdev=n0",
      "-chardev", `file,id=c0,path=${this.console},append=on`,
      "-serial", "chardev:c0",
      "-qmp", `unix:${this.qmp},server=on,wait=off`,
      "-display", "none",
      // No default VGA, parallel port or CD-ROM: under TCG each costs boot time, and no cloud VM has them.
      "-nodefaults",
      "-no-reboot",
    ];
  }

  /** Powers the VM on; the report and console files keep every boot's lines (appended). */
  start(): void {
    if (this.child) throw new Error(`${this.opts.name} is already running`);
    fs.appendFileSync(this.console, `\n===== VMBOOT ${new Date().toISOString()} =====\n`);
    const child = spawn("qemu-system-x86_64", this.args(), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    this.exit = new Promise((resolve) =>
      child.once("exit", (code) => {
        if (code) fs.appendFileSync(this.console, `\nqemu exited ${code}: ${stderr}\n`);
        this.child = undefined;
        resolve(code);
      }),
    );
    this.child = child;
    this.startedAt = Date.now();
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Lines the reporter wrote since this boot started. */
  reportLines(): string[] {
    const text = fs.existsSync(this.report) ? fs.readFileSync(this.report, "utf8") : "";
    const i = text.lastIndexOf("VMBOOT ");
    return text.slice(i < 0 ? 0 : i).split(/\r?\n/);
  }

  /** This boot's kernel panic line, if the guest kernel panicked (it then hangs, qemu still up). */
  panic(): string | undefined {
    return this.reportLines().find((l) => /Kernel panic - not syncing/.test(l))?.replace(/^\[[\s\d.]+\]\s*/, "").trim();
  }

  /** The newest VMREPORT line of this boot, parsed. */
  state(): Record<string, string> | undefined {
    const line = this.reportLines().filter((l) => l.includes("VMREPORT ")).at(-1);
    if (!line) return undefined;
    return Object.fromEntries(line.slice(line.indexOf("VMREPORT ") + 9).trim().split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  }

  /** Sends an ACPI power button press, as a cloud's stop/terminate does. */
  async acpiShutdown(): Promise<void> {
    await qmp(this.qmp, "system_powerdown");
  }

  /** Waits for qemu to exit (the guest powered off); kills it after timeoutMs. */
  async waitForExit(timeoutMs: number): Promise<"off" | "killed"> {
    if (!this.exit) return "off";
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs).unref());
    const result = await Promise.race([this.exit.then(() => "off" as const), timer]);
    if (result === "off") return "off";
    this.kill();
    await this.exit;
    return "killed";
  }

  kill(): void {
    this.child?.kill("SIGKILL");
  }
}

/** One QMP command over the monitor socket. */
function qmp(socket: string, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    let buf = "";
    let sent = false;
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`QMP ${command}: no answer`));
    }, 15_000);
    conn.on("data", (d) => {
      buf += d.toString();
      if (!sent && buf.includes('"QMP"')) {
        sent = true;
        conn.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n" + JSON.stringify({ execute: command }) + "\n");
      }
      if ((buf.match(/"return"/g) ?? []).length >= 2) {
        clearTimeout(timer);
        conn.end();
        resolve();
      }
    });
    conn.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
