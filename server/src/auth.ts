import crypto from "node:crypto";
import type { IncomingMessage } from "node:http";
import { wellFormed } from "../../protocol/src/schemas";
import { requestUrl } from "./security/request-url";

function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash("sha256").update(a).digest();
  const hb = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

/** RFC 9110 §11.1: the auth scheme is case-insensitive, so `bearer` and `BEARER` count too. */
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/** The access token from `Authorization: Bearer …` or the `token` query parameter (browsers cannot set headers). */
export function presentedToken(req: IncomingMessage): string | null {
  const match = BEARER.exec(req.headers.authorization ?? "");
  if (match) return match[1]!;
  return requestUrl(req)?.searchParams.get("token") ?? null;
}

export function tokenMatches(expected: string | null, presented: string | null): boolean {
  if (expected === null) return true;
  return presented !== null && safeEqual(expected, presented);
}

function b64url(buf: Buffer): string {
  return buf.toString("base64url");
}

export interface JwtPolicy {
  readonly secret: string;
  /** When set, `aud` (a string or a list) must contain it. */
  readonly audience?: string | null;
  /** When set, `iss` must equal it. */
  readonly issuer?: string | null;
}

const SKEW_SECONDS = 30;

/**
 * Verifies an HS256 JWT and returns its `sub`. Rejects any other alg (no "none"), a bad
 * signature, a token without a numeric `exp` (a string exp once never expired, and a token
 * without one would be valid forever), an expired one, one not yet valid (nbf), and, when
 * configured, the wrong audience or issuer. 30 s of clock skew either way.
 */
export function verifyJwt(token: string, policy: JwtPolicy | string, nowSeconds = Date.now() / 1000): string {
  return verifiedJwt(token, policy, nowSeconds).sub;
}

/** verifyJwt, with the moment (ms since the epoch, skew included) from which the token no longer holds. */
export function verifiedJwt(token: string, policy: JwtPolicy | string, nowSeconds = Date.now() / 1000): { sub: string; expiresAtMs: number } {
  const { secret, audience, issuer } = typeof policy === "string" ? { secret: policy, audience: null, issuer: null } : policy;
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("not a JWT");
  const [headerB64, payloadB64, signatureB64] = parts as [string, string, string];
  let header: { alg?: unknown; typ?: unknown };
  let payload: { sub?: unknown; exp?: unknown; nbf?: unknown; aud?: unknown; iss?: unknown };
  try {
    header = JSON.parse(Buffer.from(headerB64, "base64url").toString("utf8"));
    payload = JSON.parse(Buffer.from(payloadB64, "base64url").toString("utf8"));
  } catch {
    throw new Error("JWT is not valid base64url JSON");
  }
  if (header === null || typeof header !== "object" || payload === null || typeof payload !== "object") throw new Error("JWT header and payload must be JSON objects");
  if (header.alg !== "HS256") throw new Error("JWT alg must be HS256");
  const expected = b64url(crypto.createHmac("sha256", secret).update(`${headerB64}.${payloadB64}`).digest());
  if (!safeEqual(expected, signatureB64)) throw new Error("JWT signature does not match");
  if (typeof payload.exp !== "number" || !Number.isFinite(payload.exp)) throw new Error("JWT must carry a numeric exp (seconds since the epoch)");
  if (nowSeconds > payload.exp + SKEW_SECONDS) throw new Error("JWT has expired");
  if (payload.nbf !== undefined) {
    if (typeof payload.nbf !== "number" || !Number.isFinite(payload.nbf)) throw new Error("JWT nbf must be numeric");
    if (nowSeconds < payload.nbf - SKEW_SECONDS) throw new Error("JWT is not valid yet");
  }
  if (audience) {
    const auds = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!auds.includes(audience)) throw new Error("JWT aud does not name this server");
  }
  if (issuer && payload.iss !== issuer) throw new Error("JWT iss is not the configured issuer");
  if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 64) throw new Error("JWT sub must be a 1-64 character string");
  // The sub is the author, a key of the log stored as UTF-8 TEXT (see protocol/src/schemas.ts).
  if (!wellFormed(payload.sub)) throw new Error("JWT sub must be well-formed Unicode (it holds a lone UTF-16 surrogate)");
  return { sub: payload.sub, expiresAtMs: (payload.exp + SKEW_SECONDS) * 1000 };
}

/** Signs an HS256 JWT; used by tests and by operators minting tokens with the CLI. */
export function signJwt(payload: Record<string, unknown>, secret: string): string {
  const header = b64url(Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = b64url(Buffer.from(JSON.stringify(payload)));
  const sig = b64url(crypto.createHmac("sha256", secret).update(`${header}.${body}`).digest());
  return `${header}.${body}.${sig}`;
}
