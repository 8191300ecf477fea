#!/usr/bin/env python3
"""Records every `docker compose config` fixture under tests/unit/fixtures/ from the live Compose files.

    python -m testing.compose_fixtures            # rewrite the committed fixtures
    python -m testing.compose_fixtures --out DIR  # write them under DIR instead (the unit test)

The rendering depends on nothing but the Compose files and the Compose version: the environment is
minimal (no DEVTOOLS_*, MODEL_*, *_PORT or COMPOSE_* from the shell; DEVTOOLS_UID/GID fixed at 1000),
and the project directory is a fixed path that does not exist, so no `.env` is read and every absolute
path is the same on every checkout. That path becomes @ROOT@ in the files; the tests that load them put a
root back (cli_harness.recorded_config, test_deploy_render.load). Needs the docker CLI and its Compose
plugin (scripts/provision pins the version), no engine. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "unit" / "fixtures"
ROOT_MARK = "@ROOT@"
# Where Compose believes the project is while rendering; replaced by ROOT_MARK.
RENDER_ROOT = "/compose-fixture-root"
# The version that rendered the fixtures, recorded with them: another version may render differently.
VERSION_FILE = "compose_version.txt"
# Passed through so the docker CLI finds its Compose plugin (~/.docker/cli-plugins, $DOCKER_CONFIG).
PASSED_ENV = ("PATH", "HOME", "DOCKER_CONFIG")
FIXED_ENV = {"DEVTOOLS_UID": "1000", "DEVTOOLS_GID": "1000"}
# A YAML scalar that is a path under the render root, alone on its line after `key: ` or `- `.
ROOTED_SCALAR = re.compile(rf"^(?P<lead>[ ]*(?:- )?(?:[\w.-]+: )?){re.escape(RENDER_ROOT)}(?P<rest>/[\w./-]*)?$", re.M)


@dataclass(frozen=True)
class Recording:
    fixture: str  # path under tests/unit/fixtures/
    compose_files: tuple[str, ...]  # -f order, relative to the repository root
    header: str = ""  # comment lines put before the rendering
    profiles: tuple[str, ...] = ()  # --profile each


RECORDINGS = (
    Recording("compose_config_prod.yml", ("docker-compose.yml",)),
    Recording("compose_config_dev.yml", ("docker-compose.yml", "docker-compose.dev.yml")),
    Recording("compose_config_auth.yml", ("docker-compose.yml", "docker-compose.dev.yml", "docker-compose.auth.yml")),
    # Also the check that Compose accepts the remote override: its `!override` tags are Compose's own
    # YAML, which the schema hook (check-jsonschema) cannot read.
    Recording(
        "compose_config_remote.yml", ("docker-compose.yml", "docker-compose.dev.yml", "docker-compose.remote.yml")
    ),
    Recording(
        "deploy/compose_config_prod_ecs.yml",
        ("docker-compose.yml",),
        profiles=("*",),  # as the render asks: the one-off jobs a profile keeps out of `up` are deployed
        header=(
            "# `docker compose config` of docker-compose.yml, x-deploy and x-ecs blocks (deploy/README.md) included\n"
            "# (DEVTOOLS_ECS_* unset, so their defaults show); @ROOT@ stands for the repository root.\n"
            "# Recorded by python -m testing.compose_fixtures.\n"
        ),
    ),
)


def _environment() -> dict[str, str]:
    return {**{name: os.environ[name] for name in PASSED_ENV if name in os.environ}, **FIXED_ENV}


def _docker_compose(*args: str) -> str:
    done = subprocess.run(["docker", "compose", *args], env=_environment(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"docker compose {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def mark_root(rendered: str) -> str:
    """RENDER_ROOT -> "@ROOT@", quoted: a plain YAML scalar cannot start with `@`."""
    marked = ROOTED_SCALAR.sub(lambda m: f'{m["lead"]}"{ROOT_MARK}{m["rest"] or ""}"', rendered)
    if RENDER_ROOT in marked:
        line = next(line for line in marked.splitlines() if RENDER_ROOT in line)
        raise SystemExit(f"the project root appears where the recorder cannot mark it: {line.strip()}")
    return marked


def render(recording: Recording) -> str:
    files = [arg for name in recording.compose_files for arg in ("-f", str(REPO / name))]
    files += [arg for profile in recording.profiles for arg in ("--profile", profile)]
    return recording.header + mark_root(_docker_compose("--project-directory", RENDER_ROOT, *files, "config"))


def record(out: Path) -> list[Path]:
    """Writes every recording (and the Compose version) under out; returns the paths written."""
    outputs = {VERSION_FILE: _docker_compose("version", "--short")}
    outputs |= {recording.fixture: render(recording) for recording in RECORDINGS}
    written = []
    for name, text in outputs.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # Bytes as rendered: newline="" keeps any line ending as it is on every platform.
        path.write_text(text, encoding="utf-8", newline="")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIXTURES, help="where to write (default: tests/unit/fixtures)")
    args = parser.parse_args(argv)
    for path in record(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
