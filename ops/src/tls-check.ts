import fs from "node:fs";
import tls from "node:tls";
import { describeNetError } from "./http";

export interface TlsFacts {
  /** Whether the chain verifies against the public roots (plus --ca) for this hostname. */
  readonly trusted: boolean;
  /** Why not, in words, when not trusted. */
  readonly problem: string | null;
  readonly subject: string | null;
  readonly issuer: string | null;
  readonly validFrom: string;
  readonly validTo: string;
  readonly daysLeft: number;
  /** Less than a quarter of the certificate's lifetime is left: past the point Caddy renews at, by a margin. */
  readonly renewalOverdue: boolean;
}

/**
 * Caddy renews a certificate when a third of its lifetime is left (caddyserver/certmagic
 * DefaultRenewalWindowRatio = 1/3): 30 of Let's Encrypt's 90 days, 4 of Caddy's local CA's
 * 12 hours. A healthy certificate never drops below that; one below a quarter has been
 * failing to renew for a twelfth of its lifetime. Relative, so it fits every issuer.
 */
export const OVERDUE_RATIO = 1 / 4;

/**
 * Opens a TLS connection to host:port (SNI = host), reads the certificate Caddy serves and
 * closes. It reads even an untrusted certificate, so status can say "expires in 3 days,
 * issued by Caddy Local Authority, not trusted" instead of only failing.
 */
export function checkTls(host: string, port: number, opts: { ca?: string; timeoutMs: number; now?: Date }): Promise<TlsFacts> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      servername: net(host) ? undefined : host,
      rejectUnauthorized: false,
      ...(opts.ca ? { ca: [...tls.rootCertificates, fs.readFileSync(opts.ca, "utf8")] } : {}),
    });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no TLS handshake within ${opts.timeoutMs} ms`), { code: "ETIMEDOUT" })), opts.timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const cert = socket.getPeerCertificate();
      const validTo = new Date(cert.valid_to);
      const validFrom = new Date(cert.valid_from);
      const now = (opts.now ?? new Date()).getTime();
      const authError = socket.authorizationError as unknown as string | Error | null;
      const problem = socket.authorized ? null : describeNetError({ code: String(authError instanceof Error ? (authError as NodeJS.ErrnoException).code ?? authError.message : authError), message: String(authError) } as NodeJS.ErrnoException);
      socket.end();
      resolve({
        trusted: socket.authorized,
        problem,
        subject: first(cert.subject?.CN),
        issuer: first(cert.issuer?.O) ?? first(cert.issuer?.CN),
        validFrom: validFrom.toISOString(),
        validTo: validTo.toISOString(),
        daysLeft: Math.floor((validTo.getTime() - now) / 86_400_000),
        renewalOverdue: validTo.getTime() - now < (validTo.getTime() - validFrom.getTime()) * OVERDUE_RATIO,
      });
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function net(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/** A certificate field may repeat; the first value names it well enough. */
function first(v: string | string[] | undefined): string | null {
  return (Array.isArray(v) ? v[0] : v) ?? null;
}
