/**
 * Hostile config : sshCidrs refuses the literal "0.0.0.0/0" ("opens SSH to the
 * whole internet"), but nothing else that means the same. isCidr takes any address with
 * any prefix length 0-32 (leading zeros too), and the refine compares strings.
 */
import { parseConfig, StackConfigError } from "../components/config";

/** Whether a set of IPv4 CIDRs covers the whole address space (what the guard exists to stop). */
function coversEverything(cidrs: string[]): boolean {
  const ranges = cidrs
    .map((c) => {
      const [addr, bits] = c.split("/") as [string, string];
      const n = Number(bits);
      const base = addr.split(".").reduce((a, o) => a * 256 + Number(o), 0);
      const size = 2 ** (32 - n);
      const start = Math.floor(base / size) * size;
      return [start, start + size] as const;
    })
    .sort((a, b) => a[0] - b[0]);
  let reach = 0;
  for (const [s, e] of ranges) {
    if (s > reach) return false;
    reach = Math.max(reach, e);
  }
  return reach >= 2 ** 32;
}

test.each([
  [["0.0.0.0/00"]],
  [["10.0.0.0/0"]],
  [["203.0.113.7/0"]],
  [["0.0.0.0/1", "128.0.0.0/1"]],
])("sshCidrs %j opens SSH to the whole internet and is refused like 0.0.0.0/0", (cidrs) => {
  expect(coversEverything(cidrs)).toBe(true);
  const attempt = () => parseConfig({ provider: "digitalocean", doSnapshotToken: "dop_v1_" + "f".repeat(64), sshCidrs: JSON.stringify(cidrs) });
  expect(attempt).toThrow(StackConfigError);
  expect(attempt).toThrow(/athens-sync:sshCidrs/);
});
