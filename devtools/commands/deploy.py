"""devtools deploy: deployment documents for the prod images (`deploy render TARGET`), applying them
(`deploy apply`) and running them here as production would (`deploy run-local`).

Registered by the root app as `app.add_typer(deploy.app, name="deploy")`. The commands are the deploy
targets' own (devtools.deploy.targets): `render` gets one subcommand per target; `apply` and
`run-local` are the default target's.
"""

import typer

from devtools.deploy import targets

app = typer.Typer(
    help="Deployment documents for the prod images: render them, apply them, run them locally.",
    no_args_is_help=True,
    # Plain help, as the root app: rich formatting would import rich on every `--help`.
    rich_markup_mode=None,
)
render_app = typer.Typer(
    help="Render deployment documents from the prod Compose file.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(render_app, name="render")

for _target in targets.every():
    render_app.command(_target.NAME)(_target.render)
_default = targets.load(targets.DEFAULT)
app.command("apply")(_default.apply)
app.command("run-local")(_default.run_local)
