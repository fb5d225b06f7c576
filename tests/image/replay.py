"""A Dockerfile's build, replayed on a host without a container engine.

The Dockerfile is read by BuildKit's own parser (the `dockerfile` package wraps it), then each
stage is played into a directory of its own standing for its root filesystem:

- COPY takes the same files from the build context (or from an earlier stage's directory) to
  the same place, keeping their modification times and modes as Docker does, so what a later
  step finds (and whether cargo sees a file as changed) is what it would find in the image;
- WORKDIR and ENV are followed;
- RUN runs, in the stage's working directory, only in stages built on the Rust toolchain image
  (`rust:<version>`), with the host's toolchain of that version: those steps are the ones that
  can fail for reasons of this repository (a file not copied, a manifest cargo refuses). RUN in
  other stages installs operating-system packages into a base image, which only a container
  engine can do; they are recorded as not replayed.

Anything else the Dockerfile might use (ADD, ARG, SHELL, COPY from an image, a .dockerignore)
is refused by name, so that the replay never silently stops meaning what it says.
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile

RUST_IMAGE = re.compile(r"^rust:(\d+\.\d+)(?:[.-].*)?$")

# What the replayed RUN steps see of the host's environment: enough to find the toolchain and
# the crates.io cache, nothing that changes what cargo builds (CARGO_TARGET_DIR, RUSTFLAGS, ...).
HOST_ENV = ("PATH", "HOME", "USER", "TMPDIR", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN",
            "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


class NotModelled(Exception):
    """The Dockerfile uses something the replay cannot reproduce faithfully."""


class StepFailed(Exception):
    """A step failed as it would fail in `docker build`."""


@dataclass
class Stage:
    index: int
    name: str | None
    base: str
    commands: list = field(default_factory=list)
    entrypoint: list = field(default_factory=list)
    cmd: list = field(default_factory=list)
    user: str = "root"

    @property
    def label(self):
        return self.name or f"stage {self.index}"

    @property
    def rust_version(self):
        """The toolchain version of a stage built on the Rust image, else None."""
        match = RUST_IMAGE.match(self.base)
        return match.group(1) if match else None


def stages(path):
    """The stages of the Dockerfile at `path`, each with its instructions."""
    found = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            value = list(command.value)
            if any("$" in v for v in value):
                raise NotModelled(f"line {command.start_line}: FROM with a variable")
            name = value[2] if len(value) == 3 and value[1].upper() == "AS" else None
            found.append(Stage(len(found), name, value[0]))
        elif not found:
            raise NotModelled(f"line {command.start_line}: {command.cmd} before the first FROM")
        else:
            found[-1].commands.append(command)
    return found


@dataclass
class Step:
    """One instruction as the replay handled it."""
    stage: str
    line: int
    instruction: str
    replayed: bool


class Replay:
    """Plays the stages of one Dockerfile, with `context` as the build context, into `work`.
    `target_cache` stands in for BuildKit's layer cache: the `target` directory of a stage's
    working directory is kept there between replays, so that dependencies are built once."""

    def __init__(self, context, work, target_cache=None):
        self.context = Path(context)
        self.work = Path(work)
        self.target_cache = Path(target_cache) if target_cache else None
        self.roots = {}
        self.steps = []
        if (self.context / ".dockerignore").exists():
            raise NotModelled(".dockerignore: the replay copies the context as it is; teach it the ignore rules first")

    def root(self, stage):
        return self.roots[stage.index]

    def host_path(self, stage, path, workdir="/"):
        """Where the container path `path` of `stage` lies on the host."""
        absolute = posixpath.normpath(posixpath.join(workdir, path))
        return self.root(stage) / absolute.lstrip("/")

    def run(self, all_stages):
        by_name = {}
        for stage in all_stages:
            self.play(stage, by_name)
            by_name[stage.name or str(stage.index)] = stage
        return self.steps

    def play(self, stage, earlier):
        root = self.work / f"stage-{stage.index}"
        if stage.base in earlier:
            shutil.copytree(self.root(earlier[stage.base]), root, symlinks=True)
        else:
            root.mkdir(parents=True)
        self.roots[stage.index] = root
        workdir, env = "/", {}
        for command in stage.commands:
            replayed = True
            if command.cmd == "WORKDIR":
                workdir = posixpath.normpath(posixpath.join(workdir, command.value[0]))
                self.host_path(stage, workdir).mkdir(parents=True, exist_ok=True)
                self.link_target_cache(stage, workdir)
            elif command.cmd == "ENV":
                pairs = list(command.value)
                env.update(zip(pairs[0::2], pairs[1::2]))
            elif command.cmd == "COPY":
                self.copy(stage, command, workdir, earlier)
            elif command.cmd == "RUN":
                replayed = stage.rust_version is not None
                if replayed:
                    self.run_step(stage, command, workdir, env)
            elif command.cmd in ("ENTRYPOINT", "CMD"):
                if not command.json:
                    raise NotModelled(f"line {command.start_line}: {command.cmd} in shell form")
                setattr(stage, command.cmd.lower(), list(command.value))
            elif command.cmd == "USER":
                stage.user = command.value[0]
            elif command.cmd in ("EXPOSE", "LABEL"):
                pass
            else:
                raise NotModelled(f"line {command.start_line}: {command.cmd}")
            self.steps.append(Step(stage.label, command.start_line, command.original, replayed))

    def link_target_cache(self, stage, workdir):
        if self.target_cache is None or stage.rust_version is None:
            return
        self.target_cache.mkdir(parents=True, exist_ok=True)
        target = self.host_path(stage, "target", workdir)
        if not target.exists():
            target.symlink_to(self.target_cache, target_is_directory=True)

    def copy(self, stage, command, workdir, earlier):
        source_root, where = self.context, "the build context"
        for flag in command.flags:
            name, _, value = flag.partition("=")
            if name == "--from":
                if value not in earlier:
                    raise NotModelled(f"line {command.start_line}: COPY --from={value}, an image rather than a stage")
                source_root, where = self.root(earlier[value]), f"stage {value}"
            elif name not in ("--chown", "--link"):
                raise NotModelled(f"line {command.start_line}: COPY {name}")
        *sources, destination = command.value
        matched = []
        for source in sources:
            # Sources are relative to the context's or the stage's root, leading slash or not.
            pattern = posixpath.normpath(posixpath.join("/", source)).lstrip("/")
            if glob.has_magic(pattern):
                hits = sorted(source_root.glob(pattern))
            else:
                hits = [source_root / pattern] if (source_root / pattern).exists() else []
            if not hits:
                raise StepFailed(f"line {command.start_line}: COPY: {source} does not exist in {where}")
            matched.extend(hits)
        into_directory = destination.endswith("/") or len(matched) > 1
        target = self.host_path(stage, destination, workdir)
        for path in matched:
            if path.is_dir():
                shutil.copytree(path, target, symlinks=True, dirs_exist_ok=True, copy_function=shutil.copy2)
            else:
                place = target / path.name if into_directory or target.is_dir() else target
                place.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, place)

    def run_step(self, stage, command, workdir, env):
        argv = list(command.value) if command.json else ["sh", "-c", command.value[0]]
        for token in argv if command.json else shlex.split(command.value[0]):
            if token.startswith("/") or ".." in token.split("/"):
                raise NotModelled(
                    f"line {command.start_line}: RUN names {token}, a path outside the working directory, "
                    "which the replay would find on the host instead of in the stage"
                )
        environment = {name: os.environ[name] for name in HOST_ENV if name in os.environ}
        environment.update(env)
        result = subprocess.run(argv, cwd=self.host_path(stage, workdir), env=environment,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise StepFailed(
                f"line {command.start_line} ({stage.label}): {command.original}\n"
                f"exit {result.returncode}\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
