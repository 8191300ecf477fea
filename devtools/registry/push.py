"""The one way an image reaches the team registry: tagged, pushed with the docker CLI's login, and its
digest read back from the registry before anyone records it.

`devtools release` pushes the prod images (and joins per-platform images in one index); `devtools
release --dev` pushes the dev images `up` pulls. Both go through `Pusher`, so both refuse a push the
registry did not keep, and both say what a refusal means in the same words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from devtools import proc
from devtools.engine import inspect
from devtools.engine.api import Distribution, EngineApi, RegistryAnswer
from devtools.errors import DevtoolsError, ExitCode
from devtools.registry import endpoint

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass
class Pusher:
    """Pushes to `target` (a registry resolved by endpoint.resolve). `aftermath`: what a failure leaves,
    said after its reason (a release: nothing was released, and a rerun resumes); `again`: the command
    that tries again."""

    target: str
    aftermath: str = ""
    again: str = "push again"
    quiet: bool = False  # no per-layer progress from the docker CLI (it goes to the terminal otherwise)
    engine: EngineApi | None = None  # asks the registry what it holds; the CLI's engine when None

    @property
    def api(self) -> EngineApi:
        if self.engine is None:
            self.engine = EngineApi()
        return self.engine

    def push(self, local: str, remote: str) -> str:
        """`local` tagged as `remote` (a name under the target) and pushed; its digest, once the registry
        answers the same one."""
        proc.run(["docker", "tag", local, remote], capture=True)
        done = proc.run(["docker", "push", *(["-q"] if self.quiet else []), remote], capture=self.quiet, check=False)
        if done.returncode != 0:
            raise self.failure(remote, done.stderr)
        pushed = self.engine_digest(remote)
        self.require_held(remote, pushed)
        return pushed

    def push_index(self, name: str, members: Sequence[str], platforms: Sequence[str]) -> str:
        """One image index over the pushed per-platform images (the docker CLI's manifest commands); its
        digest, once the registry answers the same one with every platform."""
        insecure = ["--insecure"] if endpoint.is_loopback(self.target) else []  # plain HTTP, as the engine uses
        # A list left in the CLI's local store by an interrupted release would make `create` refuse.
        proc.run(["docker", "manifest", "rm", name], capture=True, check=False)
        for argv in (
            ["docker", "manifest", "create", *insecure, name, *members],
            ["docker", "manifest", "push", *insecure, "--purge", name],
        ):
            done = proc.run(argv, capture=True, check=False)
            if done.returncode != 0:
                raise self.failure(name, done.stderr)
        pushed = next((word for word in reversed(done.stdout.split()) if DIGEST.fullmatch(word)), "")
        held = self.require_held(name, pushed)
        if sorted(held.platforms) != sorted(platforms):
            raise DevtoolsError(
                f"{name}: the registry's index holds {', '.join(held.platforms) or 'no platform'}, not "
                f"{', '.join(platforms)}; {self.again}",
                ExitCode.REGISTRY,
            )
        return pushed

    def engine_digest(self, remote: str) -> str:
        """The manifest digest the engine got back from the registry for `remote` (its RepoDigests)."""
        facts = inspect.image(remote)
        digest = facts.digest_in(remote.rsplit(":", 1)[0]) if facts is not None else None
        if not digest:
            raise DevtoolsError(
                f"{remote}: pushed, but the engine recorded no digest for it; {self.again}", ExitCode.REGISTRY
            )
        return digest

    def require_held(self, remote: str, pushed: str) -> Distribution:
        """What the registry holds for `remote` (asked through the engine), which must be what was pushed."""
        try:
            held = self.api.distribution(remote)
        except RegistryAnswer as answer:
            raise self.failure(remote, str(answer)) from answer
        if held.digest != pushed:
            raise DevtoolsError(
                f"{remote}: the registry holds {held.digest or 'nothing'}, not the {pushed or '(no digest)'} just "
                f"pushed (another push moved the tag?); {self.again}",
                ExitCode.REGISTRY,
            )
        return held

    def failure(self, remote: str, stderr: str) -> DevtoolsError:
        after = f"; {self.aftermath}" if self.aftermath else ""
        meaning = endpoint.problem(stderr)
        if meaning is not None and meaning != endpoint.NOT_THERE:
            return DevtoolsError(
                f"push of {remote} failed: {self.target} {meaning}; {endpoint.fix(meaning, self.target)}{after}",
                ExitCode.REGISTRY,
            )
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        return DevtoolsError(
            f"push of {remote} failed: {lines[-1] if lines else 'no output'}{after}", ExitCode.REGISTRY
        )
