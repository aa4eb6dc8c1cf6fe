// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require("../package.json") as { version: string };

/** "<package version>+<build label>", e.g. 0.1.0+2026-11-24.1 */
export function serverVersion(build: string): string {
  return `${pkg.version}+${build}`;
}
