import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * The server's package.json sits at server/package.json, which is one level above src/
 * when running from source (tests) and three above dist/server/src/ when compiled (tsc
 * keeps the repo layout because protocol/ lives beside server/; the image has it at /app).
 */
function packageVersion(): string {
  for (const up of [["..", "package.json"], ["..", "..", "..", "package.json"]]) {
    const file = path.join(__dirname, ...up);
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "athens-sync-server" && pkg.version) return pkg.version;
    }
  }
  return "0.0.0";
}

const version = packageVersion();

/** "<package version>+<build label>", e.g. 0.1.0+2026-11-24.1 */
export function serverVersion(build: string): string {
  return `${version}+${build}`;
}
