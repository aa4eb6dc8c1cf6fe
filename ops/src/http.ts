import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import tls from "node:tls";
import { CliError, Exit } from "./exit-codes";

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** A body to stream (its length must be in content-length) or a Buffer. */
  readonly body?: Readable | Buffer;
  /** Extra CA certificates (PEM file), e.g. Caddy's local CA for the local stack. */
  readonly ca?: string;
  /** Deadline for the response headers; the body has no deadline (downloads can be big). */
  readonly timeoutMs: number;
}

export interface Response {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: http.IncomingMessage;
  text(): Promise<string>;
}

/**
 * One HTTP(S) request without keep-alive. DNS, TCP, TLS failures and timeouts become
 * CliError UNREACHABLE with the cause in words; HTTP statuses are the caller's to judge.
 */
export function request(url: URL, opts: RequestOptions): Promise<Response> {
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      url,
      {
        method: opts.method ?? "GET",
        headers: opts.headers,
        agent: false,
        // Added to, not replacing, the public roots: tls.rootCertificates plus the extra one.
        ...(opts.ca ? { ca: [...tlsRoots(), fs.readFileSync(opts.ca, "utf8")] } : {}),
      },
      (res) => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: res,
          text: () =>
            new Promise((ok, fail) => {
              let s = "";
              res.setEncoding("utf8");
              res.on("data", (c: string) => {
                // Error bodies are small; never buffer more than 1 MiB of one.
                if (s.length < 1024 * 1024) s += c;
              });
              res.once("end", () => ok(s));
              res.once("error", fail);
            }),
        });
      },
    );
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs} ms`), { code: "ETIMEDOUT" })), opts.timeoutMs);
    req.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new CliError(Exit.UNREACHABLE, "unreachable", `${url.origin}: ${describeNetError(err)}`));
    });
    if (opts.body === undefined) req.end();
    else if (Buffer.isBuffer(opts.body)) req.end(opts.body);
    else opts.body.pipe(req);
  });
}

export function describeNetError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "the hostname does not resolve (DNS)";
    case "ECONNREFUSED":
      return "connection refused (nothing listens there)";
    case "ETIMEDOUT":
      return err.message.startsWith("no answer") ? err.message : "connection timed out";
    case "ECONNRESET":
    case "EPIPE":
      return "the connection was reset";
    case "CERT_HAS_EXPIRED":
      return "the TLS certificate has expired";
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
      return `the TLS certificate is not trusted (${err.code}); for the local stack pass --ca .local-stack/.../root.crt or set NODE_EXTRA_CA_CERTS`;
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return "the TLS certificate does not name this host";
    default:
      return err.message || String(err.code);
  }
}

function tlsRoots(): string[] {
  return [...tls.rootCertificates];
}
