/**
 * A stand-in for what a GCE VM asks Google for at boot: the metadata server's token for
 * the VM's service account, and Secret Manager's `versions/latest:access` with that
 * token. Held to the rules Google documents, which a request that merely reached the
 * right path would break:
 * - the metadata server answers only requests with `Metadata-Flavor: Google`, and refuses
 *   any with `X-Forwarded-For` (https://cloud.google.com/compute/docs/metadata/querying-metadata);
 * - Secret Manager wants `Authorization: Bearer <that token>`, and returns the payload
 *   base64-encoded (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access).
 */
import crypto from "node:crypto";
import type http from "node:http";

export interface GcpStandInOptions {
  readonly project: string;
  /** Secret id -> payload. */
  readonly secrets: Readonly<Record<string, string>>;
}

export interface GcpStandIn {
  readonly handler: http.RequestListener;
  /** One line per request: "MD token", "SM <secret> ok", ... */
  readonly seen: string[];
}

export function gcpStandIn(options: GcpStandInOptions): GcpStandIn {
  const tokens = new Set<string>();
  const seen: string[] = [];
  const json = (res: http.ServerResponse, status: number, value: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
  const handler: http.RequestListener = (req, res) => {
    const url = req.url ?? "/";
    if (url.startsWith("/computeMetadata/")) {
      if (req.headers["metadata-flavor"] !== "Google" || req.headers["x-forwarded-for"] !== undefined) {
        seen.push(`MD ${url} refused`);
        return res.writeHead(403).end("Missing Metadata-Flavor:Google header.");
      }
      if (req.method === "GET" && url === "/computeMetadata/v1/instance/service-accounts/default/token") {
        const token = `ya29.${crypto.randomBytes(24).toString("base64url")}`;
        tokens.add(token);
        seen.push("MD token");
        return json(res, 200, { access_token: token, expires_in: 3599, token_type: "Bearer" });
      }
      seen.push(`MD ${url} missing`);
      return res.writeHead(404).end();
    }
    const m = /^\/v1\/projects\/([^/]+)\/secrets\/([^/]+)\/versions\/latest:access$/.exec(url);
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    if (!m || req.method !== "GET") {
      seen.push(`SM ${url} unknown`);
      return json(res, 404, { error: { code: 404, status: "NOT_FOUND" } });
    }
    if (!bearer || !tokens.has(bearer)) {
      seen.push(`SM ${m[2]} unauthenticated`);
      return json(res, 401, { error: { code: 401, status: "UNAUTHENTICATED" } });
    }
    const payload = m[1] === options.project ? options.secrets[m[2]!] : undefined;
    if (payload === undefined) {
      seen.push(`SM ${m[1]}/${m[2]} missing`);
      return json(res, 404, { error: { code: 404, status: "NOT_FOUND" } });
    }
    seen.push(`SM ${m[2]} ok`);
    return json(res, 200, { name: `projects/${m[1]}/secrets/${m[2]}/versions/1`, payload: { data: Buffer.from(payload).toString("base64"), dataCrc32c: "0" } });
  };
  return { handler, seen };
}
