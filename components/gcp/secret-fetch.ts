import { ENV_FILE } from "../render/compose";

export const SECRET_FETCH = "/usr/local/sbin/sync-fetch-secrets";

/**
 * Writes the server's env file from Secret Manager with the VM's own service account (a
 * token from the metadata server). Run by the stack unit before every start, so a
 * rotated secret reaches the server on its next restart. Fails (and systemd retries)
 * until the IAM grant has propagated.
 */
export function renderSecretFetch(project: string, secretId: string): string {
  for (const [what, value] of [["project", project], ["secret id", secretId]] as const) {
    if (!/^[a-z0-9_-][a-z0-9._:-]*$/i.test(value)) throw new Error(`unsafe ${what}: ${value}`);
  }
  return `#!/bin/sh
# Rendered by components/gcp/secret-fetch.ts.
set -eu
umask 077
md="\${GCE_METADATA:-http://metadata.google.internal}"
api="\${SECRET_MANAGER_API:-https://secretmanager.googleapis.com}"
token=$(curl -fsS --max-time 10 -H 'Metadata-Flavor: Google' "$md/computeMetadata/v1/instance/service-accounts/default/token" | jq -r .access_token)
tmp=$(mktemp "${ENV_FILE}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
curl -fsS --max-time 30 -H "Authorization: Bearer $token" "$api/v1/projects/${project}/secrets/${secretId}/versions/latest:access" \\
  | jq -r .payload.data | base64 -d > "$tmp"
grep -q '^SYNC_TOKEN=' "$tmp" || { echo "sync-secrets: the secret holds no SYNC_TOKEN" >&2; exit 1; }
mv "$tmp" "${ENV_FILE}"
trap - EXIT
echo "sync-secrets: wrote ${ENV_FILE} from Secret Manager"
`;
}
