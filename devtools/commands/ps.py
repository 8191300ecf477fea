"""devtools ps: service, state, health and published ports of the stack's containers."""

from typing import Any

import typer

from devtools.stack.project import ComposeProject


def _ports(row: dict[str, Any]) -> str:
    published = {
        f"{p.get('URL') or '0.0.0.0'}:{p['PublishedPort']}->{p['TargetPort']}"
        for p in row.get("Publishers") or []
        if p.get("PublishedPort")
    }
    return ", ".join(sorted(published))


def format_table(rows: list[dict[str, Any]]) -> str:
    table = [("SERVICE", "STATE", "HEALTH", "PORTS")]
    for row in sorted(rows, key=lambda r: r.get("Service", "")):
        state = row.get("State", "")
        if state == "exited":
            state = f"exited ({row.get('ExitCode', '?')})"
        table.append((row.get("Service", ""), state, row.get("Health") or "-", _ports(row)))
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line[:3], widths, strict=True)) for line in table]
    return "\n".join(f"{text}  {line[3]}".rstrip() for text, line in zip(lines, table, strict=True))


def ps() -> None:
    """Show each service's state, health and published ports."""
    rows = ComposeProject.dev().containers()
    if not rows:
        typer.echo("The stack is not running; start it with 'devtools up'.")
        return
    typer.echo(format_table(rows))
