import type { Readable } from "node:stream";
import type { z } from "zod";
import { AdminErrorSchema } from "../../protocol/src/admin";
import { CliError, Exit } from "./exit-codes";
import { request, type Response } from "./http";

export interface AdminTarget {
  /** https://host[:port] (through Caddy) or http://127.0.0.1:port. */
  readonly origin: URL;
  readonly token: string;
  readonly ca?: string;
  readonly timeoutMs: number;
}

/**
 * Calls one `/admin/...` endpoint (protocol/src/admin.ts) and turns refusals into exit
 * codes: 401 and 429 are DENIED, other non-2xx FAILED, with the server's own message.
 */
export async function admin(target: AdminTarget, method: string, path: string, opts: { body?: Readable | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Response> {
  const res = await request(new URL(path, target.origin), {
    method,
    headers: { authorization: `Bearer ${target.token}`, ...opts.headers },
    body: opts.body,
    ca: target.ca,
    timeoutMs: opts.timeoutMs ?? target.timeoutMs,
  });
  if (res.status >= 200 && res.status < 300) return res;
  const text = await res.text().catch(() => "");
  let message = text.trim().slice(0, 500) || `HTTP ${res.status}`;
  let code = `http_${res.status}`;
  try {
    const parsed = AdminErrorSchema.parse(JSON.parse(text));
    ({ message } = parsed);
    code = parsed.error;
  } catch {
    // Not the server's JSON: Caddy's or a proxy's page; keep the text.
  }
  if (res.status === 401) throw new CliError(Exit.DENIED, code, `the admin token was refused: ${message}`);
  if (res.status === 429) throw new CliError(Exit.DENIED, code, `rate limited (retry after ${res.headers["retry-after"] ?? "a while"} s): ${message}`);
  if (res.status === 404 && code === "http_404") throw new CliError(Exit.FAILED, "admin_disabled", `${path} answered 404: the server has no SYNC_ADMIN_TOKEN, or the proxy does not route /admin/ (an older stack); run \`pulumi up\` with this package's version`);
  if (res.status === 502 || res.status === 503) throw new CliError(Exit.FAILED, code === `http_${res.status}` ? "not_ready" : code, `the server is not ready (HTTP ${res.status}): ${message}`);
  throw new CliError(Exit.FAILED, code, message);
}

export async function adminJson<T>(target: AdminTarget, method: string, path: string, schema: z.ZodType<T>, opts: { body?: Readable | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<T> {
  const res = await admin(target, method, path, opts);
  const text = await res.text();
  try {
    return schema.parse(JSON.parse(text));
  } catch {
    throw new CliError(Exit.FAILED, "bad_answer", `${path} answered something this CLI does not understand (a different server version?): ${text.slice(0, 200)}`);
  }
}
