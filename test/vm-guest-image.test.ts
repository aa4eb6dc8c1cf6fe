/**
 * scripts/vm/guest-image.sh, run for real from the point where debootstrap has made a
 * root filesystem (a stand-in debootstrap makes a tiny one): the files it writes, mkfs -d,
 * qemu-img convert, and the contract its caller (scripts/vm/run.sh) relies on: stdout is
 * the image directory and nothing else. A cold CI run once booted a path that began with
 * mkfs's "Creating regular file", printed to stdout even with -q.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const SCRIPT = path.join(__dirname, "..", "scripts", "vm", "guest-image.sh");

/** A debootstrap that makes the skeleton a real one leaves: the dirs the script writes into, a kernel and an initrd. */
const FAKE_DEBOOTSTRAP = `#!/bin/sh
set -eu
root=$4
mkdir -p "$root/boot" "$root/etc/apt/sources.list.d" "$root/etc/cloud/cloud.cfg.d" "$root/etc/udev/rules.d" "$root/etc/default" "$root/var/cache/apt/archives" "$root/var/lib/apt/lists"
echo kernel >"$root/boot/vmlinuz-6.12.0-test"
echo initrd >"$root/boot/initrd.img-6.12.0-test"
echo "deb http://deb.debian.org/debian trixie main" >"$root/etc/apt/sources.list"
echo "I: Base system installed successfully."
`;

describe("the VM suite's guest image script", () => {
  test("prints only the image directory on stdout, cold and cached; the image is a qcow2 with the kernel and initrd beside it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guest-image-"));
    try {
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      fs.writeFileSync(path.join(bin, "debootstrap"), FAKE_DEBOOTSTRAP, { mode: 0o755 });
      const env = { ...process.env, PATH: `${bin}:/usr/sbin:/sbin:${process.env.PATH}`, VM_CACHE: path.join(dir, "cache") };
      const run = () => spawnSync("bash", [SCRIPT, "trixie"], { env, encoding: "utf8", timeout: 120_000 });

      const cold = run();
      expect({ status: cold.status, stderr: cold.status === 0 ? "" : cold.stderr }).toEqual({ status: 0, stderr: "" });
      const out = cold.stdout.split("\n").filter((l) => l !== "");
      expect(out).toEqual([expect.stringMatching(new RegExp(`^${env.VM_CACHE}/image-trixie-[0-9a-f]{16}$`))]);
      const image = out[0]!;
      expect(fs.readdirSync(image).sort()).toEqual(["initrd.img", "root.qcow2", "vmlinuz"]);
      expect(fs.readFileSync(path.join(image, "vmlinuz"), "utf8")).toBe("kernel\n");
      const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", path.join(image, "root.qcow2")], { encoding: "utf8" })) as { format: string; "virtual-size": number };
      expect(info).toMatchObject({ format: "qcow2", "virtual-size": 8 * 1024 ** 3 });
      // Progress goes to stderr.
      expect(cold.stderr).toMatch(/guest-image: debootstrap trixie/);

      const cached = run();
      expect(cached.status).toBe(0);
      expect(cached.stdout).toBe(`${image}\n`);
      // The build directory is gone; only the image remains in the cache.
      expect(fs.readdirSync(env.VM_CACHE).filter((f) => f.startsWith("build-"))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
