/** What the kernel says about a server process: its resident memory and CPU time (Linux /proc). */
import fs from "node:fs";

/** Resident set size in bytes, or NaN once the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** User + system CPU time in ms (all threads), or NaN once the process is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at its closing paren.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** sysconf(_SC_CLK_TCK): 100 on every Linux this runs on (x86-64 and arm64 kernels fix USER_HZ at 100). */
const CLOCK_TICKS = 100;

/** The soft limit on open files of this process (Node raises it to the hard limit at start). */
export function openFilesLimit(): number {
  try {
    const match = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync("/proc/self/limits", "utf8"));
    return !match || match[1] === "unlimited" ? Infinity : Number(match[1]);
  } catch {
    return Infinity;
  }
}
