"""devtools ps: service, state, health and published ports of the stack's containers."""

from collections.abc import Callable
from typing import Annotated, Any

import typer

from devtools.stack.project import ComposeProject


def _ports(row: dict[str, Any]) -> str:
    published = {
        f"{p.get('URL') or '0.0.0.0'}:{p['PublishedPort']}->{p['TargetPort']}"
        for p in row.get("Publishers") or []
        if p.get("PublishedPort")
    }
    return ", ".join(sorted(published))


def _image_source(source: str | None) -> str:
    """`built here`, `pulled from REGISTRY (sha256:0123456789ab)`, or `-` (devtools did not make it)."""
    if source is None:
        return "-"
    if "@" not in source:
        return source
    name, digest = source.split("@", 1)
    return f"pulled from {name.split('/', 1)[0]} ({digest[:19]})"


def format_table(rows: list[dict[str, Any]], sources: Callable[[str], str | None] = lambda image: None) -> str:
    table = [("SERVICE", "STATE", "HEALTH", "PORTS", "IMAGE")]
    for row in sorted(rows, key=lambda r: r.get("Service", "")):
        state = row.get("State", "")
        if state == "exited":
            state = f"exited ({row.get('ExitCode', '?')})"
        source = _image_source(sources(str(row.get("Image", ""))))
        table.append((row.get("Service", ""), state, row.get("Health") or "-", _ports(row) or "-", source))
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(line[:4], widths, strict=True)), line[4]]).rstrip()
        for line in table
    )


def as_json(rows: list[dict[str, Any]], sources: Callable[[str], str | None], forwards: list[str]) -> str:
    """What the table shows, for scripts: one object per container, plus a remote engine's forwards."""
    import json

    containers = [
        {
            "service": row.get("Service", ""),
            "state": row.get("State", ""),
            "exit_code": row.get("ExitCode") if row.get("State") == "exited" else None,
            "health": row.get("Health") or None,
            "ports": sorted(_ports(row).split(", ")) if _ports(row) else [],
            "image": row.get("Image", ""),
            "image_source": sources(str(row.get("Image", ""))),
        }
        for row in sorted(rows, key=lambda r: r.get("Service", ""))
    ]
    return json.dumps({"running": bool(rows), "containers": containers, "forwards": forwards}, indent=2)


def ps(
    json_output: Annotated[bool, typer.Option("--json", help="Print the same as JSON.")] = False,
) -> None:
    """Show each service's state, health, published ports, and where its image came from (built
    here, or pulled from the team registry: `devtools up` with DEVTOOLS_REGISTRY)."""
    from devtools.remote.site import site_of
    from devtools.stack.build_state import BuildState

    project = ComposeProject.dev()
    rows = project.containers()
    forwards = site_of(project).forwards(project)  # None: an engine on this machine forwards nothing
    sources = BuildState(project).source
    if json_output:
        typer.echo(as_json(rows, sources, forwards or []))
        return
    if not rows:
        typer.echo("The stack is not running; start it with 'devtools up'.")
        return
    typer.echo(format_table(rows, sources))
    if forwards is not None:
        typer.echo(
            "\nForwarded to this machine over SSH:" if forwards else "\nNo ports forwarded from the remote engine."
        )
        for line in forwards:
            typer.echo(f"  {line}")
