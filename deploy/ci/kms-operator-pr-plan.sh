#!/usr/bin/env bash
# Validates the KMS manifests of a pull request (GitHub) or merge request (GitLab), plans them
# against live KMS, and posts the result as one comment that every later run of the same
# request updates in place. Installed as /usr/local/bin/kms-operator-pr-plan in the CI image
# (Dockerfile, target `ci`); docs/gitops.md wires it.
#
# Exit 0 when the manifests are valid and the plan ran, whether or not changes are pending;
# 1 when they are invalid, a tenancy rule refuses them, or the plan met an error. A reviewer
# reads the pending changes in the comment; the check only says whether they can be applied.
#
# Environment:
#   MANIFESTS                 file or directory of manifests (default: .)
#   BASE_MANIFESTS            the same manifests as the target branch holds them (the workflow
#                             checks that branch out into a temporary directory): what the
#                             request removes is planned as its deletion, first, and a key it
#                             schedules for deletion is flagged at the top of the comment. Absent
#                             on the target branch (the first manifests): nothing is removed.
#   PLAN                      set to "false" to validate only (a fork's pull request has no
#                             credentials)
#   AWS_*, KMS_OPERATOR_*     credentials and settings of `kms-operator validate` and `plan`
#                             (docs/gitops.md), among them KMS_OPERATOR_PLATFORM_FILES and
#                             KMS_OPERATOR_TENANT_FILES: which files may say what
#   On GitHub Actions (GITHUB_ACTIONS=true): GITHUB_TOKEN, GITHUB_REPOSITORY, PR_NUMBER,
#     GITHUB_API_URL; COMMENT_AUTHOR, the login that posts (default github-actions[bot]).
#   On GitLab CI (GITLAB_CI=true): KMS_PLAN_GITLAB_TOKEN (a project access token, scope api),
#     CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID.
#   Elsewhere the comment is only printed.
set -euo pipefail
# A failed API call inside $(...) must stop the script, not read as "no comment yet".
shopt -s inherit_errexit

manifests="${MANIFESTS:-.}"
marker='<!-- kms-operator-plan -->'
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
comment="$work/comment.md"

# Text in a <pre> block: nothing in it can end the block or start Markdown.
pre() {
  printf '<pre>\n'
  sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' "$1"
  printf '</pre>\n'
}

# Writes the comment; returns the check's status.
compose() {
  printf '%s\n' "$marker" > "$comment"
  if ! kms-operator validate -f "$manifests" > "$work/validate.txt" 2>&1; then
    {
      printf '### kms-operator validate\n\n**The manifests are invalid; nothing was planned.**\n\n'
      pre "$work/validate.txt"
    } >> "$comment"
    return 1
  fi
  if [[ "${PLAN:-true}" == "false" ]]; then
    printf '### kms-operator validate\n\n**The manifests are valid.** No plan: this run has no AWS credentials.\n' >> "$comment"
    return 0
  fi
  local code=0 base=()
  if [[ -n "${BASE_MANIFESTS:-}" && -e "$BASE_MANIFESTS" ]]; then
    base=(--base "$BASE_MANIFESTS")
  elif [[ -n "${BASE_MANIFESTS:-}" ]]; then
    printf 'note: %s is not on the target branch: the request removes nothing\n' "$BASE_MANIFESTS" >&2
  fi
  kms-operator plan -f "$manifests" "${base[@]}" --output markdown > "$work/plan.md" 2> "$work/plan.log" || code=$?
  cat "$work/plan.md" >> "$comment"
  # 2 is "changes pending": a plan to review, not a failure.
  if [[ "$code" == 0 || "$code" == 2 ]]; then
    cat "$work/plan.log" >&2
    return 0
  fi
  if [[ -s "$work/plan.log" ]]; then
    {
      printf '\n<details>\n<summary>kms-operator plan exited %s; its stderr</summary>\n\n' "$code"
      pre "$work/plan.log"
      printf '\n</details>\n'
    } >> "$comment"
  fi
  return 1
}

# GitHub refuses comments over 65536 characters: keep the head, say where the rest is.
fit() {
  local limit=60000
  if (( $(wc -c < "$comment") > limit )); then
    head -c "$limit" "$comment" > "$work/cut.md"
    printf '\n\n**The plan is too long for a comment; the whole of it is in the job log.**\n' >> "$work/cut.md"
    mv "$work/cut.md" "$comment"
  fi
}

# The id of the earlier comment: the first of `author` that starts with the marker, in pages of
# 100 from `url` (a JSON array per page); empty if none.
find_comment() {
  local url="$1" author_filter="$2" page=1 found count
  shift 2
  while :; do
    local listed
    listed="$(curl -sSf "$@" "$url?per_page=100&page=$page")"
    found="$(jq -r --arg marker "$marker" "map(select($author_filter and (.body | startswith(\$marker)))) | first | .id // empty" <<< "$listed")"
    count="$(jq length <<< "$listed")"
    if [[ -n "$found" || "$count" -lt 100 ]]; then
      printf '%s' "$found"
      return
    fi
    page=$((page + 1))
  done
}

post_github() {
  local api="${GITHUB_API_URL:-https://api.github.com}/repos/$GITHUB_REPOSITORY"
  local auth=(-H "Authorization: Bearer $GITHUB_TOKEN" -H "Accept: application/vnd.github+json")
  local author="${COMMENT_AUTHOR:-github-actions[bot]}" id
  id="$(find_comment "$api/issues/$PR_NUMBER/comments" ".user.login == \"$author\"" "${auth[@]}")"
  jq -Rs '{body: .}' < "$comment" > "$work/body.json"
  if [[ -n "$id" ]]; then
    curl -sSf -o /dev/null -X PATCH "${auth[@]}" --data @"$work/body.json" "$api/issues/comments/$id"
  else
    curl -sSf -o /dev/null -X POST "${auth[@]}" --data @"$work/body.json" "$api/issues/$PR_NUMBER/comments"
  fi
}

post_gitlab() {
  local notes="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
  local auth=(-H "PRIVATE-TOKEN: $KMS_PLAN_GITLAB_TOKEN")
  local me id
  me="$(curl -sSf "${auth[@]}" "$CI_API_V4_URL/user" | jq -r .id)"
  id="$(find_comment "$notes" ".author.id == $me" "${auth[@]}")"
  jq -Rs '{body: .}' < "$comment" > "$work/body.json"
  local json=(-H "Content-Type: application/json" --data @"$work/body.json")
  if [[ -n "$id" ]]; then
    curl -sSf -o /dev/null -X PUT "${auth[@]}" "${json[@]}" "$notes/$id"
  else
    curl -sSf -o /dev/null -X POST "${auth[@]}" "${json[@]}" "$notes"
  fi
}

status=0
compose || status=$?
cat "$comment"
fit
if [[ "${GITHUB_ACTIONS:-}" == "true" && "${PLAN:-true}" != "false" ]]; then
  post_github
elif [[ "${GITLAB_CI:-}" == "true" && "${PLAN:-true}" != "false" ]]; then
  post_gitlab
fi
exit "$status"
