import fs from "node:fs";
import type http from "node:http";
import path from "node:path";

/**
 * The demo outliner's static files (client/dist/demo, built by `npm --prefix client run
 * build`), served at / when SYNC_DEMO=1. Read once at boot into memory: a handful of
 * small files, and no request path ever reaches the filesystem, so there is nothing to
 * traverse.
 */
export interface DemoFiles {
  get(pathname: string): { type: string; body: Buffer } | undefined;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export function loadDemo(dir: string): DemoFiles {
  if (!fs.existsSync(path.join(dir, "index.html"))) {
    throw new Error(`SYNC_DEMO_DIR: no index.html in ${dir}; build the demo with \`npm --prefix client run build\``);
  }
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const type = TYPES[path.extname(entry.name)];
    if (entry.isFile() && type) files.set(`/${entry.name}`, { type, body: fs.readFileSync(path.join(dir, entry.name)) });
  }
  files.set("/", files.get("/index.html")!);
  return { get: (pathname) => files.get(pathname) };
}

export function serveDemo(file: { type: string; body: Buffer }, req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, {
    "content-type": file.type,
    "content-length": file.body.length,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    // The page talks only to this origin's WebSocket.
    "content-security-policy": "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; img-src 'self' data:",
  });
  res.end(req.method === "HEAD" ? undefined : file.body);
}
