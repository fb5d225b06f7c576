"""The Dockerfile (the controller image and the `ci` image of docs/gitops.md), tested on a host
without a container engine: hadolint lints it, and its build stage is replayed (replay.py):
the same files copied to the same places, and the same cargo commands run, up to the release
binary; the later stages then find what they copy from it, and the binary the image would run
is the real one. docs/testing.md lists what this cannot prove."""

import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import replay

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"
# BuildKit's layer cache stands in here: the release build's dependencies are kept between runs
# (a clean clone, as in CI, builds them once).
TARGET_CACHE = ROOT / "target" / "image-replay"


def hadolint(path):
    return subprocess.run([str(HADOLINT), "--no-color", "--failure-threshold", "style", str(path)],
                          capture_output=True, text=True)


def package():
    metadata = subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(metadata)["packages"][0]


class Lint(unittest.TestCase):
    def test_hadolint_finds_nothing(self):
        result = hadolint(DOCKERFILE)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_hadolint_is_live(self):
        # The one rule the Dockerfile silences, with its reason: without the pragma it fires.
        text = DOCKERFILE.read_text()
        self.assertIn("# hadolint ignore=DL3008\n", text)
        with tempfile.TemporaryDirectory() as work:
            unsilenced = Path(work) / "Dockerfile"
            unsilenced.write_text(text.replace("# hadolint ignore=DL3008\n", ""))
            result = hadolint(unsilenced)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DL3008", result.stdout)


class Replay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stages = replay.stages(DOCKERFILE)
        cls.work = tempfile.TemporaryDirectory(prefix="image-replay-")
        cls.replay = replay.Replay(ROOT, cls.work.name, TARGET_CACHE)
        cls.steps = cls.replay.run(cls.stages)

    @classmethod
    def tearDownClass(cls):
        cls.work.cleanup()

    def stage(self, name):
        return next(s for s in self.stages if s.name == name)

    def test_the_toolchain_is_the_image_s(self):
        versions = {s.rust_version for s in self.stages if s.rust_version}
        self.assertEqual(len(versions), 1, versions)
        image = versions.pop()
        host = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True).stdout
        self.assertTrue(host.startswith(f"rustc {image}."),
                        f"the replay builds with {host.strip()}, the image with rust:{image}: "
                        "bump the Dockerfile's image with the project's toolchain")
        minimum = package()["rust_version"]
        major_minor = lambda version: tuple(int(part) for part in version.split(".")[:2])
        self.assertLessEqual(major_minor(minimum), major_minor(image), "Cargo.toml's rust-version")

    def test_every_cargo_step_of_the_build_stage_ran(self):
        replayed = [s.instruction for s in self.steps if s.stage == "build" and s.instruction.startswith("RUN")]
        self.assertTrue(replayed and all("cargo build --release --locked" in r for r in replayed), replayed)
        self.assertTrue(all(s.replayed for s in self.steps if s.stage == "build"))

    def test_the_controller_image_runs_the_real_binary(self):
        final = self.stages[-1]
        self.assertEqual(final.user, "65532:65532")
        entrypoint = self.replay.host_path(final, final.entrypoint[0])
        self.assertTrue(os.access(entrypoint, os.X_OK), entrypoint)
        version = subprocess.run([entrypoint, "--version"], capture_output=True, text=True)
        # The dependency step's stub (`fn main() {}`) prints nothing: a binary that answers is
        # the crate's, rebuilt after its sources were copied in.
        self.assertEqual(version.stdout.strip(), f"kms-operator {package()['version']}", version.stderr)
        default = subprocess.run([entrypoint, *final.cmd, "--help"], capture_output=True, text=True)
        self.assertEqual(default.returncode, 0, default.stderr)
        self.assertIn("Run the controller", default.stdout)

    def test_the_ci_image_has_the_binary_and_the_pull_request_script(self):
        ci = self.stage("ci")
        for program in ("/usr/local/bin/kms-operator", "/usr/local/bin/kms-operator-pr-plan"):
            self.assertTrue(os.access(self.replay.host_path(ci, program), os.X_OK), program)
        script = self.replay.host_path(ci, "/usr/local/bin/kms-operator-pr-plan")
        self.assertEqual(script.read_bytes(), (ROOT / "deploy/ci/kms-operator-pr-plan.sh").read_bytes())
        # Its RUN (apt-get into a Debian image) is the container engine's to run.
        self.assertFalse(any(s.replayed for s in self.steps if s.stage == "ci" and s.instruction.startswith("RUN")))


class ReplayCatches(unittest.TestCase):
    """The replay fails where `docker build` fails."""

    def replay_of(self, text):
        with tempfile.TemporaryDirectory(prefix="image-replay-broken-") as work:
            context = Path(work) / "context"
            context.mkdir()
            for name in ("Cargo.toml", "Cargo.lock"):
                (context / name).write_bytes((ROOT / name).read_bytes())
            (context / "benches").symlink_to(ROOT / "benches")
            (context / "src").symlink_to(ROOT / "src")
            dockerfile = context / "Dockerfile"
            dockerfile.write_text(text)
            stages = replay.stages(dockerfile)
            with self.assertRaises(replay.StepFailed) as failure:
                replay.Replay(context, Path(work) / "stages").run(stages[:1])
            return str(failure.exception)

    def test_a_manifest_whose_targets_are_not_copied(self):
        # The build stage before issue 26: Cargo.toml names benchmarks that are not there.
        text = DOCKERFILE.read_text().replace("COPY benches ./benches\n", "")
        message = self.replay_of(text)
        self.assertRegex(message, r"can't find `\w+` bench")

    def test_a_source_that_is_not_in_the_context(self):
        message = self.replay_of("FROM rust:1.95-bookworm AS build\nWORKDIR /src\nCOPY sources ./src\n")
        self.assertIn("COPY: sources does not exist in the build context", message)


if __name__ == "__main__":
    unittest.main()
