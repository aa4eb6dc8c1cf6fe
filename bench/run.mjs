// Launcher for `npm run bench`: checks what the benchmark needs before loading its
// TypeScript (run by Node's built-in type stripping, Node >= 22.18), then starts it.
import fs from "node:fs";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `the benchmark needs Node >= 22.18 (Hocuspocus 4 needs Node 22; the harness is TypeScript run by Node's type stripping); this is ${process.version}.\n` +
      "On the team machines: export PATH=/opt/node26/bin:$PATH\n",
  );
  process.exit(2);
}
if (!fs.existsSync(new URL("./node_modules/@hocuspocus/server/package.json", import.meta.url))) {
  process.stderr.write("the benchmark's dependencies are not installed: run `npm ci --prefix bench`\n");
  process.exit(2);
}
await import("./src/main.ts");
