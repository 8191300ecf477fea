"""The merged Compose configuration, as `docker compose config` resolves it (.env and environment included)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from devtools.errors import DevtoolsError, ExitCode


@dataclass(frozen=True)
class ComposeConfig:
    raw: dict[str, Any]

    @classmethod
    def parse(cls, text: str) -> ComposeConfig:
        import yaml  # a noticeable share of startup: only commands that read the config pay for it

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return cls(yaml.load(text, Loader=loader) or {})

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        services: dict[str, dict[str, Any]] = self.raw.get("services", {})
        return services

    def require(self, names: Sequence[str]) -> None:
        unknown = [name for name in names if name not in self.services]
        if unknown:
            known = ", ".join(sorted(self.services))
            raise DevtoolsError(f"unknown service '{unknown[0]}'; this stack has: {known}", ExitCode.UNKNOWN_SERVICE)

    def published_urls(self) -> list[tuple[str, str, str]]:
        """(service, title, url) for every service that declares `x-devtools.url` and publishes a port."""
        urls = []
        for name, service in self.services.items():
            meta = service.get("x-devtools", {})
            if "url" not in meta:
                continue
            published = [port for port in service.get("ports", []) if port.get("published")]
            if published:
                host = published[0].get("host_ip") or "127.0.0.1"
                url = f"http://{host}:{published[0]['published']}{meta['url']}"
                urls.append((name, meta.get("title", name), url))
        return urls

    def published_ports(self) -> list[int]:
        """The host ports the stack publishes."""
        return sorted(
            {
                int(port["published"])
                for service in self.services.values()
                for port in service.get("ports", [])
                if port.get("published")
            }
        )
