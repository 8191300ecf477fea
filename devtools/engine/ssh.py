"""The host of an engine reached over SSH (ssh://user@host:port), and how to run ssh to it: as the
docker CLI does (the same `ssh` program, so ~/.ssh/config applies), for port forwards
(devtools.remote.tunnel) and GPU host probes (devtools.gpu.probes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class SshTarget:
    user: str
    host: str
    port: str

    @classmethod
    def parse(cls, endpoint: str) -> SshTarget | None:
        """The target of an ssh:// endpoint; None for any other."""
        parts = urlsplit(endpoint)
        if parts.scheme != "ssh" or not parts.hostname:
            return None
        return cls(parts.username or "", parts.hostname, str(parts.port or ""))

    @property
    def name(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}{':' + self.port if self.port else ''}"

    def argv(self, *options: str, command: Sequence[str] = ()) -> list[str]:
        """ssh to the engine's host, as the docker CLI runs it: never a password prompt (BatchMode), a
        tunnel that fails when a forward cannot be set up, a dead link noticed."""
        fixed = ["-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=15"]
        where = [*(["-p", self.port] if self.port else []), *(["-l", self.user] if self.user else [])]
        return ["ssh", *fixed, *where, *options, self.host, *command]
