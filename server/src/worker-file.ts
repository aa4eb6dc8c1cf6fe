import path from "node:path";

/**
 * The compiled JavaScript of a worker that sits beside the module starting it. The built
 * server uses the sibling; Jest runs the server from TypeScript sources, but a worker
 * needs JavaScript, so from sources it is the same place under dist/ (jest's global
 * setup builds it first).
 */
export function workerFile(moduleFile: string, worker: string): string {
  const dir = path.dirname(moduleFile);
  if (!moduleFile.endsWith(".ts")) return path.join(dir, worker);
  // This file is server/src/worker-file.ts when running from sources.
  return path.join(__dirname, "..", "dist", "server", "src", path.relative(__dirname, dir), worker);
}
