import crypto from "node:crypto";
import type { IncomingMessage } from "node:http";

function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash("sha256").update(a).digest();
  const hb = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

/** The access token from `Authorization: Bearer …` or the `token` query parameter (browsers cannot set headers). */
export function presentedToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (header?.startsWith("Bearer ")) return header.slice(7).trim();
  const url = new URL(req.url ?? "/", "http://localhost");
  return url.searchParams.get("token");
}

export function tokenMatches(expected: string | null, presented: string | null): boolean {
  if (expected === null) return true;
  return presented !== null && safeEqual(expected, presented);
}

function b64url(buf: Buffer): string {
  return buf.toString("base64url");
}

/**
 * Verifies an HS256 JWT and returns its `sub`. Rejects any other alg (no "none"),
 * a bad signature, an expired token (exp) or one not yet valid (nbf), with 30 s of skew.
 */
export function verifyJwt(token: string, secret: string, nowSeconds = Date.now() / 1000): string {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("not a JWT");
  const [headerB64, payloadB64, signatureB64] = parts as [string, string, string];
  let header: { alg?: unknown; typ?: unknown };
  let payload: { sub?: unknown; exp?: unknown; nbf?: unknown };
  try {
    header = JSON.parse(Buffer.from(headerB64, "base64url").toString("utf8"));
    payload = JSON.parse(Buffer.from(payloadB64, "base64url").toString("utf8"));
  } catch {
    throw new Error("JWT is not valid base64url JSON");
  }
  if (header.alg !== "HS256") throw new Error("JWT alg must be HS256");
  const expected = b64url(crypto.createHmac("sha256", secret).update(`${headerB64}.${payloadB64}`).digest());
  if (!safeEqual(expected, signatureB64)) throw new Error("JWT signature does not match");
  const skew = 30;
  if (typeof payload.exp === "number" && nowSeconds > payload.exp + skew) throw new Error("JWT has expired");
  if (typeof payload.nbf === "number" && nowSeconds < payload.nbf - skew) throw new Error("JWT is not valid yet");
  if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 64) throw new Error("JWT sub must be a 1-64 character string");
  return payload.sub;
}

/** Signs an HS256 JWT; used by tests and by operators minting tokens with the CLI. */
export function signJwt(payload: Record<string, unknown>, secret: string): string {
  const header = b64url(Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = b64url(Buffer.from(JSON.stringify(payload)));
  const sig = b64url(crypto.createHmac("sha256", secret).update(`${header}.${body}`).digest());
  return `${header}.${body}.${sig}`;
}
