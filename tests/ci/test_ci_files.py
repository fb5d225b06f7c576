"""The CI files of deploy/ci, as docs/gitops.md ships them: the GitHub workflow and the GitLab
job against the JSON schemas their platforms publish (vendored in check-jsonschema, so nothing
is downloaded), the pull-request script through shellcheck, and the script's behaviour against
fake GitHub and GitLab APIs: one comment, posted once and updated after; a failed check on
invalid manifests or plan errors, never on pending changes."""

import http.server
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import textwrap
import threading
import unittest
import urllib.parse

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
CI = ROOT / "deploy" / "ci"
GITHUB_WORKFLOW = CI / "github" / "kms-operator-plan.yml"
GITLAB_JOB = CI / "gitlab" / "kms-operator-plan.gitlab-ci.yml"
SCRIPT = CI / "kms-operator-pr-plan.sh"
MARKER = "<!-- kms-operator-plan -->"

# Any attempt to reach the network goes nowhere: the schemas must be the vendored ones.
OFFLINE = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def check_schema(schema, path):
    return subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True, text=True, env=OFFLINE,
    )


class Lint(unittest.TestCase):
    def assert_valid(self, schema, path):
        result = check_schema(schema, path)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def assert_invalid(self, schema, text, expected):
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as broken:
            broken.write(text)
            broken.flush()
            result = check_schema(schema, broken.name)
        self.assertNotEqual(result.returncode, 0, "the schema must catch: " + expected)
        self.assertIn(expected, result.stdout + result.stderr)

    def test_the_github_workflow_matches_the_workflow_schema(self):
        self.assert_valid("vendor.github-workflows", GITHUB_WORKFLOW)
        text = GITHUB_WORKFLOW.read_text()
        self.assert_invalid("vendor.github-workflows", text.replace("runs-on:", "run-on:"), "'runs-on' is a required property")

    def test_the_gitlab_job_matches_the_gitlab_ci_schema(self):
        self.assert_valid("vendor.gitlab-ci", GITLAB_JOB)
        text = GITLAB_JOB.read_text()
        self.assert_invalid("vendor.gitlab-ci", text.replace("  script:", "  scripts:"), "'scripts' was unexpected")

    def test_the_script_passes_shellcheck(self):
        result = subprocess.run([BIN / "shellcheck", "--severity=style", str(SCRIPT)], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_both_platforms_plan_against_the_target_branch(self):
        for path in (GITHUB_WORKFLOW, GITLAB_JOB):
            with self.subTest(path=path.name):
                text = path.read_text()
                self.assertIn("git worktree add --detach", text)
                self.assertIn("BASE_MANIFESTS", text)

    def test_both_platforms_run_the_same_script_with_the_read_only_role_and_file_patterns(self):
        for path in (GITHUB_WORKFLOW, GITLAB_JOB):
            text = path.read_text()
            with self.subTest(path=path.name):
                self.assertIn("kms-operator-pr-plan", text)
                self.assertIn("KMS_OPERATOR_ASSUME_ROLE_NAME: kms-operator-plan", text)
                self.assertIn("role/kms-operator-plan-ci", text)
                self.assertIn("sts.amazonaws.com", text)
                # Files are bound to tenants, for validate and plan alike.
                self.assertIn('KMS_OPERATOR_PLATFORM_FILES: "keys/platform/**"', text)
                self.assertIn('KMS_OPERATOR_TENANT_FILES: "keys/teams/{namespace}/**"', text)


class FakeApi(http.server.ThreadingHTTPServer):
    """GitHub's issue comments and GitLab's merge request notes, in memory."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.comments = []
        self.requests = []
        self.next_id = 100
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, body, login="github-actions[bot]", author_id=42):
        self.next_id += 1
        self.comments.append({"id": self.next_id, "body": body, "user": {"login": login}, "author": {"id": author_id}})
        return self.next_id


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, value, status=200):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))["body"]

    def route(self, method):
        api = self.server
        path = urllib.parse.urlparse(self.path).path
        api.requests.append((method, path))
        if self.headers.get("Authorization") != "Bearer gh-token" and self.headers.get("PRIVATE-TOKEN") != "gl-token":
            return self.reply({"message": "Bad credentials"}, 401)
        if method == "GET" and path == "/api/v4/user":
            return self.reply({"id": 42})
        if method == "GET" and path in ("/repos/platform/kms/issues/7/comments", "/api/v4/projects/5/merge_requests/7/notes"):
            page = int(urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)["page"][0])
            return self.reply(api.comments[(page - 1) * 100 : page * 100])
        if method == "POST" and path in ("/repos/platform/kms/issues/7/comments", "/api/v4/projects/5/merge_requests/7/notes"):
            return self.reply({"id": api.add(self.body())}, 201)
        edited = re.fullmatch(r"/repos/platform/kms/issues/comments/(\d+)|/api/v4/projects/5/merge_requests/7/notes/(\d+)", path)
        if method in ("PATCH", "PUT") and edited:
            comment = next(c for c in api.comments if c["id"] == int(edited.group(1) or edited.group(2)))
            comment["body"] = self.body()
            return self.reply(comment)
        return self.reply({"message": "Not Found"}, 404)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    def do_PUT(self):
        self.route("PUT")


# A stand-in for the binary: exits as told, and records what it was asked.
STUB = textwrap.dedent("""\
    #!/usr/bin/env bash
    echo "$*" >> "$STUB_LOG"
    case "$1" in
      validate)
        if [[ "$STUB_VALIDATE" == 0 ]]; then echo "7 resource(s) valid."; exit 0; fi
        echo "error: keys/key.yaml:4: KmsKey apps/logs: spec.keySpec: <RSA_1024> is not a key spec" >&2
        exit 1 ;;
      plan)
        printf '### kms-operator plan\\n\\n**%s**\\n' "$STUB_VERDICT"
        echo "warning: something on stderr" >&2
        exit "$STUB_PLAN" ;;
    esac
    exit 64
""")


class Script(unittest.TestCase):
    def setUp(self):
        self.api = FakeApi()
        self.addCleanup(self.api.server_close)
        self.addCleanup(self.api.shutdown)
        self.dir = pathlib.Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)
        stub = self.dir / "kms-operator"
        stub.write_text(STUB)
        stub.chmod(0o755)
        self.log = self.dir / "calls.log"

    def run_script(self, platform, validate=0, plan=2, verdict="Plan: 1 change(s) to 1 resource(s); 6 in sync; 0 with errors.", **extra):
        env = {
            "PATH": f"{self.dir}:{os.environ['PATH']}",
            "MANIFESTS": "keys/",
            "STUB_LOG": str(self.log),
            "STUB_VALIDATE": str(validate),
            "STUB_PLAN": str(plan),
            "STUB_VERDICT": verdict,
        }
        if platform == "github":
            env.update(GITHUB_ACTIONS="true", GITHUB_API_URL=self.api.url, GITHUB_REPOSITORY="platform/kms", PR_NUMBER="7", GITHUB_TOKEN="gh-token")
        if platform == "gitlab":
            env.update(GITLAB_CI="true", CI_API_V4_URL=self.api.url + "/api/v4", CI_PROJECT_ID="5", CI_MERGE_REQUEST_IID="7", KMS_PLAN_GITLAB_TOKEN="gl-token")
        env.update(extra)
        return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env)

    def mine(self):
        return [c for c in self.api.comments if c["body"].startswith(MARKER) and c["user"]["login"] == "github-actions[bot]" and c["author"]["id"] == 42]

    def test_pending_changes_pass_and_one_github_comment_is_posted_then_updated(self):
        someone = self.api.add(MARKER + " pasted by a person", login="octocat", author_id=1)
        first = self.run_script("github", plan=2)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(len(self.mine()), 1)
        self.assertIn("**Plan: 1 change(s) to 1 resource(s); 6 in sync; 0 with errors.**", self.mine()[0]["body"])
        second = self.run_script("github", plan=0, verdict="No changes. All 7 resources are in sync with KMS.")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(len(self.mine()), 1, "updated, not posted again")
        self.assertIn("No changes.", self.mine()[0]["body"])
        self.assertEqual(next(c for c in self.api.comments if c["id"] == someone)["body"], MARKER + " pasted by a person")
        self.assertIn(("PATCH", f"/repos/platform/kms/issues/comments/{self.mine()[0]['id']}"), self.api.requests)

    def test_one_gitlab_note_is_posted_then_updated(self):
        self.api.add(MARKER + " by another bot", login="x", author_id=9)
        self.assertEqual(self.run_script("gitlab").returncode, 0)
        self.assertEqual(self.run_script("gitlab", plan=0).returncode, 0)
        notes = [c for c in self.api.comments if c["author"]["id"] == 42]
        self.assertEqual(len(notes), 1)
        self.assertTrue(notes[0]["body"].startswith(MARKER + "\n### kms-operator plan"))
        self.assertEqual([m for m, _ in self.api.requests if m in ("POST", "PUT")], ["POST", "PUT"])

    def test_invalid_manifests_fail_the_check_say_why_and_plan_nothing(self):
        result = self.run_script("github", validate=1)
        self.assertEqual(result.returncode, 1)
        body = self.mine()[0]["body"]
        self.assertIn("**The manifests are invalid; nothing was planned.**", body)
        self.assertIn("spec.keySpec: &lt;RSA_1024&gt; is not a key spec", body)
        self.assertEqual(self.log.read_text().split("\n")[0], "validate -f keys/")
        self.assertNotIn("plan", self.log.read_text())

    def test_plan_errors_fail_the_check_with_stderr_attached(self):
        result = self.run_script("github", plan=1, verdict="Plan: 0 change(s) to 0 resource(s); 6 in sync; 1 with errors.")
        self.assertEqual(result.returncode, 1)
        body = self.mine()[0]["body"]
        self.assertIn("1 with errors.", body)
        self.assertIn("<summary>kms-operator plan exited 1; its stderr</summary>", body)
        self.assertIn("<pre>\nwarning: something on stderr\n</pre>", body)

    def test_an_api_that_refuses_the_listing_fails_the_job_instead_of_posting_a_second_comment(self):
        result = self.run_script("github", GITHUB_TOKEN="revoked")
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual([m for m, _ in self.api.requests], ["GET"])

    def test_a_fork_is_validated_only_and_nothing_is_posted(self):
        result = self.run_script("github", PLAN="false")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.log.read_text(), "validate -f keys/\n")
        self.assertEqual(self.api.requests, [])
        self.assertIn("**The manifests are valid.**", result.stdout)

    def test_the_target_branch_s_manifests_are_the_plan_s_base(self):
        base = self.dir / "base" / "keys"
        base.mkdir(parents=True)
        result = self.run_script(None, BASE_MANIFESTS=str(base))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"plan -f keys/ --base {base} --output markdown", self.log.read_text())

    def test_manifests_new_to_the_target_branch_remove_nothing(self):
        missing = self.dir / "base" / "keys"
        result = self.run_script(None, BASE_MANIFESTS=str(missing))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("plan -f keys/ --output markdown", self.log.read_text())
        self.assertIn(f"note: {missing} is not on the target branch", result.stderr)

    def test_the_plan_runs_with_markdown_output_and_is_printed_to_the_log(self):
        result = self.run_script(None, plan=2)
        self.assertEqual(result.returncode, 0)
        self.assertIn("plan -f keys/ --output markdown", self.log.read_text())
        self.assertTrue(result.stdout.startswith(MARKER + "\n### kms-operator plan"))
        self.assertEqual(self.api.requests, [])


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, check=True, capture_output=True, text=True)


def rev(cwd, ref):
    return subprocess.run(["git", "rev-parse", ref], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


class TargetBranch(unittest.TestCase):
    """The workflow steps that check the target branch out, run in a repository where a pull
    request removes keys/old.yaml: each must hand the script a base that still holds it."""

    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)
        origin = self.dir / "origin"
        origin.mkdir()
        git(origin, "init", "-q", "-b", "main")
        (origin / "keys").mkdir()
        for name in ("old", "kept"):
            (origin / "keys" / f"{name}.yaml").write_text(f"# {name}\n")
        git(origin, "add", ".")
        git(origin, "commit", "-q", "-m", "before")
        self.base_sha = rev(origin, "HEAD")
        git(origin, "checkout", "-q", "-b", "feature")
        git(origin, "rm", "-q", "keys/old.yaml")
        git(origin, "commit", "-q", "-m", "remove old")
        # What GitHub checks out for a pull request: the merge into the target branch.
        git(origin, "checkout", "-q", "-b", "pull-merge", "main")
        git(origin, "merge", "-q", "--no-ff", "-m", "merge", "feature")
        self.origin = origin

    def clone(self, branch, depth):
        clone = pathlib.Path(tempfile.mkdtemp(dir=self.dir)) / "clone"
        git(self.dir, "clone", "-q", "--depth", str(depth), "--branch", branch, f"file://{self.origin}", str(clone))
        return clone

    def assert_base(self, base):
        self.assertEqual(sorted(p.name for p in pathlib.Path(base).iterdir()), ["kept.yaml", "old.yaml"])

    def test_github_uses_the_merge_commit_s_first_parent(self):
        workflow = yaml.safe_load(GITHUB_WORKFLOW.read_text())
        steps = workflow["jobs"]["plan"]["steps"]
        checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
        step = next(s for s in steps if "git worktree add" in s.get("run", ""))
        clone = self.clone("pull-merge", checkout["with"]["fetch-depth"])
        self.assertFalse((clone / "keys" / "old.yaml").exists())
        env_file = self.dir / "github_env"
        env = {**os.environ, "RUNNER_TEMP": str(self.dir / "runner-temp"), "GITHUB_ENV": str(env_file), "MANIFESTS": "keys/"}
        (self.dir / "runner-temp").mkdir()
        subprocess.run(["bash", "-e", "-c", step["run"]], cwd=clone, env=env, check=True, capture_output=True)
        base = dict(line.split("=", 1) for line in env_file.read_text().splitlines())["BASE_MANIFESTS"]
        self.assert_base(base)

    def test_gitlab_uses_the_commit_the_branch_left_or_the_target_s_tip(self):
        job = yaml.safe_load(GITLAB_JOB.read_text())["kms-operator-plan"]
        block = next(line for line in job["script"] if "git worktree add" in line)
        for variables in ({"CI_MERGE_REQUEST_DIFF_BASE_SHA": self.base_sha}, {"CI_MERGE_REQUEST_TARGET_BRANCH_SHA": self.base_sha, "CI_MERGE_REQUEST_DIFF_BASE_SHA": "0" * 40}):
            with self.subTest(variables=list(variables)):
                clone = self.clone("feature", 1)
                temp = self.dir / f"tmp-{len(variables)}"
                temp.mkdir()
                env = {**os.environ, "MANIFESTS": "keys/", "TMPDIR": str(temp), **variables}
                shown = subprocess.run(["sh", "-e", "-c", block + '\necho "$BASE_MANIFESTS"'], cwd=clone, env=env, check=True, capture_output=True, text=True)
                self.assert_base(shown.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    unittest.main()
