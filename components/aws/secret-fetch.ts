import { ENV_FILE } from "../render/compose";
import { checkedRegion } from "./region";

export const SECRET_FETCH = "/usr/local/sbin/sync-fetch-secrets";

/** Secrets Manager's rule for a secret's name: 1-512 of ASCII letters, digits and /_+=.@- (API reference, CreateSecret, Name). */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/**
 * Writes the server's env file from Secrets Manager with the instance role's credentials,
 * so the user data carries no secret: `ec2:DescribeInstanceAttribute` (in the read-only
 * managed policies) returns user data to anyone holding it, while GetSecretValue on this
 * secret is granted to the instance role alone.
 *
 * Python 3 and its standard library only: cloud-init is Python, so every image that runs
 * this user data has it, and the AWS CLI is not on Debian's AMI. It signs one
 * GetSecretValue call with Signature Version 4
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) using the
 * role's temporary credentials from IMDSv2
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html).
 * The endpoints follow the AWS SDKs' own environment variables, for stand-ins in tests.
 *
 * Run by the stack unit before every start, so a rotated secret reaches the server on its
 * next restart. It fails (and systemd retries) until the role's grant has propagated.
 */
export function renderAwsSecretFetch(region: string, secretName: string): string {
  checkedRegion(region);
  if (!SECRET_NAME.test(secretName)) throw new Error(`unsafe secret name: ${secretName}`);
  return `#!/usr/bin/python3
# Rendered by components/aws/secret-fetch.ts.
import datetime, hashlib, hmac, json, os, sys, tempfile, urllib.error, urllib.parse, urllib.request

REGION = "${region}"
SECRET_ID = "${secretName}"
ENV_FILE = "${ENV_FILE}"
IMDS = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/")
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://secretsmanager.%s.amazonaws.com" % REGION).rstrip("/")


def fail(message):
    print("sync-secrets: " + message, file=sys.stderr)
    sys.exit(1)


def call(request, what):
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        # AWS's error bodies name the error (e.g. AccessDeniedException), never the secret.
        fail("%s: HTTP %d %s" % (what, err.code, err.read()[:300].decode("utf-8", "replace")))
    except (urllib.error.URLError, OSError) as err:
        fail("%s: %s" % (what, err))


def credentials():
    token = call(urllib.request.Request(IMDS + "/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}), "IMDSv2 token").decode()
    get = lambda path, what: call(urllib.request.Request(IMDS + path, headers={"X-aws-ec2-metadata-token": token}), what)
    roles = get("/latest/meta-data/iam/security-credentials/", "instance role").decode().split()
    if not roles:
        fail("the instance has no role")
    creds = json.loads(get("/latest/meta-data/iam/security-credentials/" + roles[0], "role credentials"))
    if creds.get("Code", "Success") != "Success":
        fail("role credentials: " + str(creds.get("Code")))
    return creds


def signed(creds, target, body):
    url = urllib.parse.urlsplit(ENDPOINT + "/")
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = "%s/%s/secretsmanager/aws4_request" % (amz_date[:8], REGION)
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "host": url.netloc,
        "x-amz-date": amz_date,
        "x-amz-security-token": creds["Token"],
        "x-amz-target": target,
    }
    names = sorted(headers)
    canonical = "\\n".join(["POST", url.path, "", "".join("%s:%s\\n" % (n, headers[n].strip()) for n in names), ";".join(names), hashlib.sha256(body).hexdigest()])
    to_sign = "\\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + creds["SecretAccessKey"]).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (creds["AccessKeyId"], scope, ";".join(names), signature)
    return urllib.request.Request(url.geturl(), data=body, method="POST", headers=headers)


body = json.dumps({"SecretId": SECRET_ID}).encode()
answer = json.loads(call(signed(credentials(), "secretsmanager.GetSecretValue", body), "GetSecretValue %s" % SECRET_ID))
env = answer.get("SecretString")
if not isinstance(env, str) or not any(line.startswith("SYNC_TOKEN=") for line in env.splitlines()):
    fail("the secret holds no SYNC_TOKEN")
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(ENV_FILE), prefix=os.path.basename(ENV_FILE) + ".")
try:
    with os.fdopen(fd, "w") as out:
        out.write(env)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, ENV_FILE)
except BaseException:
    os.unlink(tmp)
    raise
print("sync-secrets: wrote %s from Secrets Manager" % ENV_FILE)
`;
}
