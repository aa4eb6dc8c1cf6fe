#!/usr/bin/env bash
# Posts (or replaces) a merge-request note with one stack's `pulumi preview --diff` output.
# Usage: post-preview-note.sh <stack> <preview-output-file>
# Needs GITLAB_PREVIEW_TOKEN (project access token, scope api) and GitLab's predefined
# CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID.
set -euo pipefail
stack=$1
file=$2
: "${GITLAB_PREVIEW_TOKEN:?set GITLAB_PREVIEW_TOKEN (a project access token with api scope)}"
api="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
marker="<!-- pulumi-preview:$stack -->"
# GitLab notes are limited to 1,000,000 characters; keep the tail, where the summary is.
body=$(printf '%s\n### `pulumi preview` for `%s`\n\n```diff\n%s\n```\n' "$marker" "$stack" "$(tail -c 900000 "$file")")
existing=$(curl -fsS --header "PRIVATE-TOKEN: $GITLAB_PREVIEW_TOKEN" "$api?per_page=100" | jq -r --arg m "$marker" '[.[] | select(.body | startswith($m))][0].id // empty')
if [ -n "$existing" ]; then
  curl -fsS --request PUT --header "PRIVATE-TOKEN: $GITLAB_PREVIEW_TOKEN" --data-urlencode "body=$body" "$api/$existing" >/dev/null
else
  curl -fsS --request POST --header "PRIVATE-TOKEN: $GITLAB_PREVIEW_TOKEN" --data-urlencode "body=$body" "$api" >/dev/null
fi
echo "posted the $stack preview to merge request !$CI_MERGE_REQUEST_IID"
