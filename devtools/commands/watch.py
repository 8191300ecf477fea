"""devtools watch: map file changes to restart / rebuild / exec / sync per service, against the running stack."""

from devtools.stack.project import ComposeProject


def watch() -> None:
    """Watch the repo and act per service until Ctrl-C (the stack keeps running)."""
    from devtools.watch import loop

    project = ComposeProject.dev()
    loop.run(project, project.config())
