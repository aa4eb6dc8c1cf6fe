// Builds the package and the demo with esbuild, emits types with tsc, and reports sizes.
//   dist/index.js        ESM library (datascript left as an import: the app's bundler resolves it)
//   dist/types/          .d.ts
//   dist/browser.min.js  everything a browser loads (client + datascript), minified: the size we report
//   dist/demo/           the outliner page the server serves at / with SYNC_DEMO=1
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import zlib from "node:zlib";

const here = path.dirname(new URL(import.meta.url).pathname);
const dist = path.join(here, "dist");
fs.rmSync(dist, { recursive: true, force: true });
const common = { bundle: true, format: "esm", target: "es2022", logLevel: "warning", absWorkingDir: here };

await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/index.js", platform: "neutral", external: ["datascript"] });
await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/browser.min.js", platform: "browser", minify: true });
await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/client-only.min.js", platform: "browser", minify: true, external: ["datascript"] });
await build({ ...common, entryPoints: ["demo/outliner.ts"], outfile: "dist/demo/app.js", platform: "browser", minify: true });
for (const file of ["index.html", "style.css"]) fs.copyFileSync(path.join(here, "demo", file), path.join(dist, "demo", file));

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.types.json"], { cwd: here, stdio: "inherit" });

const size = (file) => {
  const buf = fs.readFileSync(path.join(dist, file));
  return { bytes: buf.length, gzip: zlib.gzipSync(buf, { level: 9 }).length };
};
const report = { "browser.min.js (client + datascript)": size("browser.min.js"), "client-only.min.js (datascript external)": size("client-only.min.js") };
fs.writeFileSync(path.join(dist, "size.json"), JSON.stringify(report, null, 2) + "\n");
for (const [name, { bytes, gzip }] of Object.entries(report)) console.log(`${name}: ${(bytes / 1024).toFixed(1)} KiB min, ${(gzip / 1024).toFixed(1)} KiB min+gzip`);
