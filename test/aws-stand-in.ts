/**
 * A stand-in for what an EC2 instance asks AWS for its secrets: IMDSv2 (a session token,
 * then the instance role's temporary credentials) and Secrets Manager's GetSecretValue.
 * Not a mock of our own making: every GetSecretValue must carry a Signature Version 4
 * that AWS's own signer (@smithy/signature-v4, what the AWS SDKs use) computes the same
 * way from the credentials handed out here, for this region and service, within AWS's
 * 15-minute clock skew. IMDSv2's rules as EC2 documents them
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html):
 * the token comes from a PUT with a TTL header, and every GET without it is 401.
 */
import http from "node:http";
import crypto from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";

export interface AwsStandInOptions {
  readonly region: string;
  /** SecretId -> SecretString. */
  readonly secrets: Readonly<Record<string, string>>;
  readonly role?: string;
  /** Answer every GetSecretValue with AccessDeniedException (an IAM grant not yet propagated). */
  denied?: boolean;
}

export interface AwsStandIn {
  readonly handler: http.RequestListener;
  /** One line per request: "IMDS PUT /latest/api/token", "SM secretsmanager.GetSecretValue <id> ok", ... */
  readonly seen: string[];
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
}

const MAX_SKEW_MS = 15 * 60_000;

function body(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

/** The Authorization header AWS would expect for this request: re-signed with the same date and signed headers. */
async function expectedAuthorization(req: http.IncomingMessage, payload: Buffer, region: string, credentials: AwsStandIn["credentials"]): Promise<string | null> {
  const auth = String(req.headers.authorization ?? "");
  const m = /^AWS4-HMAC-SHA256 Credential=[^,]+, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/.exec(auth);
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m || !d) return null;
  const date = new Date(Date.UTC(+d[1]!, +d[2]! - 1, +d[3]!, +d[4]!, +d[5]!, +d[6]!));
  if (Math.abs(Date.now() - date.getTime()) > MAX_SKEW_MS) return null;
  const signedNames = m[1]!.split(";");
  // host and x-amz-date must be signed (SigV4's rule); the security token too, for temporary credentials.
  for (const required of ["host", "x-amz-date", "x-amz-security-token"]) if (!signedNames.includes(required)) return null;
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const v = req.headers[name];
    if (typeof v !== "string") return null;
    headers[name] = v;
  }
  const url = new URL(req.url ?? "/", "http://stand-in");
  const signer = new SignatureV4({ credentials, region, service: "secretsmanager", sha256: Hash.bind(null, "sha256"), applyChecksum: false });
  const signed = await signer.sign(
    { method: req.method ?? "POST", protocol: "http:", hostname: headers.host!, path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body: payload },
    { signingDate: date },
  );
  return String(signed.headers.authorization ?? signed.headers.Authorization);
}

export function awsStandIn(options: AwsStandInOptions): AwsStandIn {
  const role = options.role ?? "sync-vm-role";
  const credentials = {
    accessKeyId: `ASIA${crypto.randomBytes(8).toString("hex").toUpperCase()}`,
    secretAccessKey: crypto.randomBytes(30).toString("base64"),
    sessionToken: crypto.randomBytes(60).toString("base64"),
  };
  const tokens = new Set<string>();
  const seen: string[] = [];
  const json = (res: http.ServerResponse, status: number, value: unknown) => res.writeHead(status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(value));
  const handler: http.RequestListener = (req, res) => {
    void (async () => {
      const payload = await body(req);
      const url = req.url ?? "/";
      if (url.startsWith("/latest/")) {
        seen.push(`IMDS ${req.method} ${url}`);
        if (url === "/latest/api/token" && req.method === "PUT") {
          const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
          if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return res.writeHead(400).end();
          const token = crypto.randomBytes(24).toString("base64");
          tokens.add(token);
          return res.writeHead(200, { "content-type": "text/plain" }).end(token);
        }
        if (req.method !== "GET" || !tokens.has(String(req.headers["x-aws-ec2-metadata-token"]))) return res.writeHead(401).end();
        if (url === "/latest/meta-data/iam/security-credentials/") return res.writeHead(200).end(role);
        if (url === `/latest/meta-data/iam/security-credentials/${role}`) {
          const expiration = new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
          return json(res, 200, { Code: "Success", Type: "AWS-HMAC", AccessKeyId: credentials.accessKeyId, SecretAccessKey: credentials.secretAccessKey, Token: credentials.sessionToken, Expiration: expiration });
        }
        return res.writeHead(404).end();
      }
      const target = String(req.headers["x-amz-target"] ?? "");
      const expected = await expectedAuthorization(req, payload, options.region, credentials);
      if (!expected || expected !== req.headers.authorization) {
        seen.push(`SM ${target} bad-signature`);
        return json(res, 403, { __type: "InvalidSignatureException", message: "The request signature we calculated does not match the signature you provided." });
      }
      if (target !== "secretsmanager.GetSecretValue" || req.headers["content-type"] !== "application/x-amz-json-1.1") {
        seen.push(`SM ${target} unknown`);
        return json(res, 400, { __type: "UnknownOperationException" });
      }
      const id = String((JSON.parse(payload.toString() || "{}") as { SecretId?: unknown }).SecretId);
      if (options.denied) {
        seen.push(`SM ${target} ${id} denied`);
        return json(res, 400, { __type: "AccessDeniedException", Message: `User: arn:aws:sts::123456789012:assumed-role/${role}/i-0 is not authorized to perform: secretsmanager:GetSecretValue` });
      }
      const secret = options.secrets[id];
      if (secret === undefined) {
        seen.push(`SM ${target} ${id} missing`);
        return json(res, 400, { __type: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret." });
      }
      seen.push(`SM ${target} ${id} ok`);
      return json(res, 200, { ARN: `arn:aws:secretsmanager:${options.region}:123456789012:secret:${id}-AbCdEf`, Name: id, SecretString: secret, VersionId: crypto.randomUUID(), VersionStages: ["AWSCURRENT"] });
    })().catch((err: unknown) => {
      seen.push(`error ${String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  };
  return { handler, seen, credentials };
}
