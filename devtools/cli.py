"""The `devtools` command: a root Typer app, one module per command, one error boundary.

Importing this module must stay cheap (`devtools --help` is benchmarked against `import typer`):
no docker SDK, mlflow, torch or yaml here or in the command modules' top level.
"""

import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # vendored click; typer has no alias
from typer.core import TyperGroup

from devtools import __version__, proc
from devtools.commands import (
    backup,
    build,
    config,
    deploy,
    doctor,
    down,
    gpu,
    lock,
    logs,
    model,
    notebook,
    pipeline,
    promote,
    ps,
    release,
    repro,
    restore,
    scan,
    seed,
    shell,
    sign,
    train,
    up,
    watch,
)
from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.gpu import ALL_GPUS, GpuMode


def _debug() -> bool:
    return os.environ.get("DEVTOOLS_DEBUG") == "1"


# Options whose value may be left out: bare, they take this default. The parser itself has no such
# options, and `devtools up --gpu` must not swallow the next word (a service name) as its value.
OPTIONAL_VALUES: dict[str, tuple[str, Callable[[str], bool]]] = {
    "--gpu": (GpuMode.REQUIRE.value, lambda value: value in {mode.value for mode in GpuMode}),
    "--gpus": (ALL_GPUS, lambda value: value == ALL_GPUS or value.isdigit()),
}


def normalize_optional_values(args: list[str]) -> list[str]:
    """A bare `--gpu` becomes `--gpu=require`, a bare `--gpus` `--gpus=all`; nothing after `--`."""
    normalized: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return normalized + args[i:]
        following = args[i + 1] if i + 1 < len(args) else None
        if arg in OPTIONAL_VALUES:
            default, is_value = OPTIONAL_VALUES[arg]
            if following is None or not is_value(following):
                arg = f"{arg}={default}"
        normalized.append(arg)
    return normalized


def _usage_error(exc: UsageError) -> NoReturn:
    """Click prints usage, a hint and the error on three lines; one is enough, naming the help to read."""
    if isinstance(exc, NoArgsIsHelpError):
        raise exc  # a bare `devtools` (or group) shows the help, as click does
    command = exc.ctx.command_path if exc.ctx is not None else "devtools"
    print(f"{command}: error: {exc.format_message()} (see {command} -h)", file=sys.stderr)
    raise typer.Exit(int(ExitCode.USAGE)) from exc


class _ErrorBoundary(TyperGroup):
    """Turns a DevtoolsError into one line on stderr and its exit code; anything else is a bug."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return list(super().parse_args(ctx, normalize_optional_values(args)))
        except UsageError as exc:  # the root command's own options
            _usage_error(exc)

    # ctx is typer's vendored click Context, which typer does not export publicly.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DevtoolsError as exc:
            if _debug():
                import traceback  # only on the error path: it is a noticeable share of startup

                traceback.print_exc()
            print(f"devtools: {exc.message}", file=sys.stderr)
            raise typer.Exit(int(exc.code)) from exc
        except UsageError as exc:
            _usage_error(exc)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            # Typer's other exceptions (its vendored click's, e.g. a file it cannot open) show themselves.
            if type(exc).__module__.startswith("typer."):
                raise
            if _debug():
                raise
            print(
                f"devtools: internal error: {type(exc).__name__}: {exc} (set DEVTOOLS_DEBUG=1 for the traceback)",
                file=sys.stderr,
            )
            raise typer.Exit(int(ExitCode.INTERNAL)) from exc


app = typer.Typer(
    cls=_ErrorBoundary,
    name="devtools",
    help="Run the ML dev stack (MLflow, training, serving) on Docker Compose.",
    no_args_is_help=True,
    # `devtools --install-completion` (bash, zsh, fish, PowerShell) / `--show-completion`: README.
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain help: rich-formatted help imports rich and markdown-it, doubling `devtools --help` time.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"devtools {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Echo every docker command run.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    proc.set_verbose(verbose)


app.command("up")(up.up)
app.command("down")(down.down)
app.command("ps")(ps.ps)
app.command("logs")(logs.logs)
app.command("shell", context_settings={"allow_interspersed_args": False})(shell.shell)
app.command("build")(build.build)
app.command("config")(config.config)
app.command("doctor")(doctor.doctor)
app.command("gpu")(gpu.gpu)
app.command("watch")(watch.watch)
app.add_typer(deploy.app, name="deploy")
app.command("release")(release.release)
app.command("lock")(lock.lock)
app.command("scan")(scan.scan)
# Options after `train` belong to the training job, not to devtools.
app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(train.train)
app.command("pipeline")(pipeline.pipeline)
app.command("seed")(seed.seed)
app.command("model")(model.model)
app.command("promote")(promote.promote)
app.command("repro")(repro.repro)
app.command("sign")(sign.sign)
app.command("backup")(backup.backup)
app.command("restore")(restore.restore)
app.command("notebook")(notebook.notebook)


NATIVE_WINDOWS = (
    "native Windows is not supported: run devtools in WSL2 (wsl --install, then Docker Desktop's WSL2 "
    "integration or Docker Engine inside the distro); README, Supported hosts"
)


def main() -> None:
    # Dev users take the host's UID (os.getuid), bind mounts and signals are POSIX: WSL2 is the way there.
    if sys.platform == "win32":
        print(f"devtools: {NATIVE_WINDOWS}", file=sys.stderr)
        raise SystemExit(int(ExitCode.USAGE))
    app()
