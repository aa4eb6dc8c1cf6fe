/**
 * `listSnapshots` (ops/src/snapshots) against recorded API responses for each cloud
 * (test/fixtures/snapshots, with their sources), served from loopback. The server
 * answers only the requests a correct client makes (the documented parameters, the
 * stack's filters, the credentials); anything else gets the API's error status, so a
 * wrong filter or a lost page fails here.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { listSnapshots, parseStackOutputs, SnapshotListError, StackOutputsError } from "../ops/src/snapshots";

const FIXTURES = path.join(__dirname, "fixtures", "snapshots");
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");

const DO_TOKEN = "dop_v1_" + "c".repeat(64);
const GCP_TOKEN = "ya29.a0AfB_test-access-token";
const DO_CURRENT = "82a48a18-873f-11e6-96bf-000f53315a41";
const DO_RETAINED = "6b1a4c2e-e098-11e5-9a4b-000f53306ae1";
const GCP_DISK = "https://www.googleapis.com/compute/v1/projects/my-project/zones/europe-west1-b/disks/prod-sync-data";

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  auth: string | undefined;
}
const seen: Seen[] = [];
let server: http.Server;
let base: string;
/** Makes the GCP answer carry a snapshot of another stack, as if the API had ignored the filter. */
let leakForeign = false;

function reply(res: http.ServerResponse, status: number, type: string, body: string) {
  res.writeHead(status, { "content-type": type }).end(body);
}

function ec2Error(res: http.ServerResponse, code: string, message: string) {
  reply(res, 400, "text/xml", `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>`);
}

function handle(req: http.IncomingMessage, body: string, res: http.ServerResponse) {
  const url = new URL(req.url!, "http://x");
  const query = req.method === "POST" ? Object.fromEntries(new URLSearchParams(body)) : Object.fromEntries(url.searchParams);
  seen.push({ method: req.method!, path: url.pathname, query, auth: req.headers.authorization });

  // AWS EC2 Query API: a signed POST of a form.
  if (req.method === "POST" && url.pathname === "/") {
    if (!/^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/ec2\/aws4_request/.test(req.headers.authorization ?? "")) return ec2Error(res, "AuthFailure", "AWS was not able to validate the provided access credentials");
    if (query.Action !== "DescribeSnapshots" || query["Owner.1"] !== "self" || query.MaxResults !== "1000") return ec2Error(res, "InvalidParameterValue", `unexpected request ${JSON.stringify(query)}`);
    if (query["Filter.1.Name"] === "tag:sync-snapshot" && query["Filter.1.Value.1"] === "prod-sync" && query["Filter.2.Name"] === undefined) {
      if (query.NextToken === undefined) return reply(res, 200, "text/xml", fixture("aws-by-tag-1.xml"));
      if (query.NextToken === "eyJ2IjoiMiIsImMiOiJEZXNjcmliZVNuYXBzaG90cyIsInMiOiIyIn0=") return reply(res, 200, "text/xml", fixture("aws-by-tag-2.xml"));
      return ec2Error(res, "InvalidParameterValue", "bad NextToken");
    }
    if (query["Filter.1.Name"] === "volume-id" && query["Filter.1.Value.1"] === "vol-0a1b2c3d4e5f60718" && query["Filter.1.Value.2"] === "vol-0123456789abcdef0" && query["Filter.1.Value.3"] === undefined) {
      return reply(res, 200, "text/xml", fixture("aws-by-volume-1.xml"));
    }
    return ec2Error(res, "InvalidParameterValue", `unexpected filters ${JSON.stringify(query)}`);
  }

  // DigitalOcean: GET /v2/volumes/{id}/snapshots?page=N&per_page=M with a bearer token.
  const doMatch = /^\/v2\/volumes\/([^/]+)\/snapshots$/.exec(url.pathname);
  if (doMatch) {
    if (req.headers.authorization !== `Bearer ${DO_TOKEN}`) return reply(res, 401, "application/json", JSON.stringify({ id: "Unauthorized", message: "Unable to authenticate you" }));
    const [volume, page] = [doMatch[1], query.page];
    if (volume === DO_CURRENT && page === "1" && query.per_page === "200") return reply(res, 200, "application/json", fixture("do-volume-current-1.json"));
    if (volume === DO_CURRENT && page === "2" && query.per_page === "2") return reply(res, 200, "application/json", fixture("do-volume-current-2.json"));
    if (volume === DO_RETAINED && page === "1") return reply(res, 200, "application/json", fixture("do-volume-retained-1.json"));
    return reply(res, 404, "application/json", JSON.stringify({ id: "not_found", message: "The resource you were accessing could not be found." }));
  }

  // GCP Compute: GET /compute/v1/projects/{project}/global/snapshots?filter=&pageToken=
  if (url.pathname === "/compute/v1/projects/my-project/global/snapshots") {
    if (req.headers.authorization !== `Bearer ${GCP_TOKEN}`) return reply(res, 401, "application/json", JSON.stringify({ error: { code: 401, status: "UNAUTHENTICATED" } }));
    if (query.filter !== `(labels.sync-snapshot = "prod-sync") OR (sourceDisk = "${GCP_DISK}")`) return reply(res, 400, "application/json", JSON.stringify({ error: { code: 400, message: `Invalid value for field 'filter': '${query.filter}'` } }));
    if (query.pageToken === undefined) {
      const page = JSON.parse(fixture("gcp-1.json"));
      if (leakForeign) page.items.push({ ...page.items[0], name: "staging-sync-data-x", labels: { "sync-snapshot": "staging-sync" }, sourceDisk: GCP_DISK.replace("prod", "staging"), creationTimestamp: "2026-11-25T10:00:00Z" });
      return reply(res, 200, "application/json", JSON.stringify(page));
    }
    if (query.pageToken === JSON.parse(fixture("gcp-1.json")).nextPageToken) return reply(res, 200, "application/json", fixture("gcp-2.json"));
    return reply(res, 400, "application/json", JSON.stringify({ error: { code: 400, message: "Invalid page token" } }));
  }
  reply(res, 404, "text/plain", "no such route");
}

const savedEnv = { ...process.env };
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => handle(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The AWS SDK's default credential chain stops at the environment: never a real profile or IMDS.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/nonexistent",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
});

afterAll(async () => {
  process.env = savedEnv;
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  seen.length = 0;
  leakForeign = false;
});

const outputs = (extra: Record<string, unknown>) => parseStackOutputs({ url: "wss://sync.example.com/ws", hostname: "sync.example.com", token: "t".repeat(48), adminToken: "a".repeat(48), ...extra });

test("AWS: the stack's tag and volume ids, every page, completed only, merged and newest first", async () => {
  const out = outputs({ cloud: "aws", region: "us-east-1", volumeId: "vol-0a1b2c3d4e5f60718", retainedVolumeIds: ["vol-0123456789abcdef0"], snapshotTag: { key: "sync-snapshot", value: "prod-sync" } });
  const snaps = await listSnapshots(out, { endpoints: { aws: base } });
  expect(snaps.map((s) => [s.id, s.createdAt])).toEqual([
    ["snap-0b1b2b3b4b5b6b7b8", "2026-11-24T17:42:09.000Z"],
    ["snap-0c1d2e3f405162738", "2026-11-24T03:00:41.512Z"],
    ["snap-0a9b8c7d6e5f40312", "2026-11-22T03:00:37.004Z"],
    ["snap-01234567", "2026-11-21T03:00:35.877Z"],
  ]);
  expect(snaps.every((s) => s.cloud === "aws" && s.sizeGiB === 20)).toBe(true);
  expect(snaps[0]!.description).toBe("before the schema migration");
  // An empty description is left out, not passed on as "".
  expect(snaps[3]).not.toHaveProperty("description");
  // Three calls: the tag query's two pages, then the volume query.
  expect(seen.map((r) => [r.query["Filter.1.Name"], r.query.NextToken ?? null])).toEqual([
    ["tag:sync-snapshot", null],
    ["tag:sync-snapshot", "eyJ2IjoiMiIsImMiOiJEZXNjcmliZVNuYXBzaG90cyIsInMiOiIyIn0="],
    ["volume-id", null],
  ]);
});

test("DigitalOcean: every page of each of the stack's volumes, the next link re-issued against our endpoint, newest first", async () => {
  const out = outputs({ cloud: "digitalocean", region: "fra1", volumeId: DO_CURRENT, retainedVolumeIds: [DO_RETAINED] });
  const snaps = await listSnapshots(out, { endpoints: { digitalocean: `${base}/v2` }, env: { DIGITALOCEAN_TOKEN: DO_TOKEN } });
  expect(snaps).toEqual([
    { id: "4d5e6f70-8a10-11f1-8e2a-0a58ac14a2b3", createdAt: "2026-11-24T18:20:01.000Z", sizeGiB: 20, cloud: "digitalocean", description: "before-upgrade (fra1)" },
    { id: "8fa70202-873f-11e6-8b68-000f533176b1", createdAt: "2026-11-24T03:02:14.000Z", sizeGiB: 20, cloud: "digitalocean", description: "sync-auto-20261124T030212Z (fra1)" },
    { id: "1b2c3d4e-8a5f-11f1-9c1d-0a58ac14a2b3", createdAt: "2026-11-23T03:01:35.000Z", sizeGiB: 20, cloud: "digitalocean", description: "sync-auto-20261123T030133Z (fra1)" },
    { id: "506f78a4-e098-11e5-ad9f-000f53306ae1", createdAt: "2026-11-20T03:00:57.000Z", sizeGiB: 10, cloud: "digitalocean", description: "sync-auto-20261120T030055Z (fra1)" },
  ]);
  expect(seen.map((r) => `${r.path}?page=${r.query.page}&per_page=${r.query.per_page}`)).toEqual([
    `/v2/volumes/${DO_CURRENT}/snapshots?page=1&per_page=200`,
    `/v2/volumes/${DO_CURRENT}/snapshots?page=2&per_page=2`,
    `/v2/volumes/${DO_RETAINED}/snapshots?page=1&per_page=200`,
  ]);
  expect(new Set(seen.map((r) => r.auth))).toEqual(new Set([`Bearer ${DO_TOKEN}`]));
});

test("DigitalOcean: no token, or a refused one, is a clear error", async () => {
  const out = outputs({ cloud: "digitalocean", volumeId: DO_CURRENT });
  await expect(listSnapshots(out, { endpoints: { digitalocean: `${base}/v2` }, env: {} })).rejects.toThrow(/no DigitalOcean token: set DIGITALOCEAN_TOKEN/);
  await expect(listSnapshots(out, { endpoints: { digitalocean: `${base}/v2` }, env: { DIGITALOCEAN_TOKEN: "dop_v1_wrong" } })).rejects.toThrow(/HTTP 401 \(check the token and its scopes\)/);
});

test("GCP: the stack's label or disks as the filter, every page, READY only, newest first (in UTC)", async () => {
  const out = outputs({ cloud: "gcp", region: "europe-west1", volumeId: "projects/my-project/zones/europe-west1-b/disks/prod-sync-data", snapshotTag: { key: "sync-snapshot", value: "prod-sync" } });
  const snaps = await listSnapshots(out, { endpoints: { gcp: base }, env: { GOOGLE_OAUTH_ACCESS_TOKEN: GCP_TOKEN } });
  expect(snaps).toEqual([
    { id: "prod-sync-data-europe-west1-b-20261125030012-k3x9q2ab", createdAt: "2026-11-25T03:00:12.345Z", sizeGiB: 30, cloud: "gcp" },
    { id: "before-upgrade", createdAt: "2026-11-24T18:15:44.120Z", sizeGiB: 30, cloud: "gcp", description: "taken by hand before the upgrade" },
    { id: "prod-sync-data-europe-west1-b-20261124030009-a1b2c3d4", createdAt: "2026-11-24T03:00:09.871Z", sizeGiB: 30, cloud: "gcp" },
  ]);
  expect(seen.map((r) => r.query.pageToken ?? null)).toEqual([null, JSON.parse(fixture("gcp-1.json")).nextPageToken]);
});

test("GCP: a snapshot of another stack in an answer is dropped; the token comes from gcloud's ADC when the environment has none", async () => {
  leakForeign = true;
  const calls: string[] = [];
  const out = outputs({ cloud: "gcp", volumeId: "projects/my-project/zones/europe-west1-b/disks/prod-sync-data", snapshotTag: { key: "sync-snapshot", value: "prod-sync" } });
  const snaps = await listSnapshots(out, {
    endpoints: { gcp: base },
    env: {},
    run: async (cmd, args) => {
      calls.push([cmd, ...args].join(" "));
      return `${GCP_TOKEN}\n`;
    },
  });
  expect(snaps.map((s) => s.id)).not.toContain("staging-sync-data-x");
  expect(snaps).toHaveLength(3);
  expect(calls).toEqual(["gcloud auth application-default print-access-token"]);
});

test("the local docker stack has no volume snapshots: an empty list, no API call", async () => {
  expect(await listSnapshots(outputs({ cloud: "docker", volumeId: "local-sync-data" }))).toEqual([]);
  // The raw outputs of a stack from before `cloud` existed are parsed here too.
  expect(await listSnapshots({ url: "wss://localhost:8443/ws", provider: "docker", volumeId: "local-sync-data" })).toEqual([]);
  expect(seen).toEqual([]);
});

test("stack outputs: hidden secrets and foreign outputs are refused with the fix; `provider` still names the cloud", () => {
  expect(() => parseStackOutputs({ url: "wss://h/ws", volumeId: "vol-1", cloud: "aws", adminToken: "[secret]" })).toThrow(/adminToken: is hidden; read the outputs with `pulumi stack output --json --show-secrets`/);
  expect(() => parseStackOutputs({ url: "wss://h/ws", volumeId: "vol-1" })).toThrow(StackOutputsError);
  expect(parseStackOutputs({ url: "wss://h/ws", volumeId: "vol-1", provider: "gcp" }).cloud).toBe("gcp");
  expect(parseStackOutputs({ url: "wss://h/ws", volumeId: "vol-1", cloud: "aws" }).retainedVolumeIds).toEqual([]);
});

test("a listing that never ends stops at the page bound", async () => {
  const out = outputs({ cloud: "digitalocean", volumeId: DO_CURRENT });
  await expect(listSnapshots(out, { endpoints: { digitalocean: `${base}/v2` }, env: { DIGITALOCEAN_TOKEN: DO_TOKEN }, maxPages: 1 })).rejects.toThrow(SnapshotListError);
});
