"""devtools sign: sign a registered model version with the promotion key, or make / retire a key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from devtools.stack.project import ComposeProject


def sign(
    version: Annotated[str | None, typer.Argument(metavar="VERSION", help="The model version to sign.")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="The registered model (default: MODEL_NAME, else digits-classifier).")
    ] = None,
    prod: Annotated[bool, typer.Option("--prod", help="The prod stack's MLflow (as the promoter account).")] = False,
    new_key: Annotated[
        bool,
        typer.Option(
            "--new-key",
            help="Make a new promotion key (the old one is kept, and stays trusted until --retire-key): a rotation.",
        ),
    ] = False,
    retire_key: Annotated[
        str | None,
        typer.Option(
            "--retire-key", metavar="FINGERPRINT", help="Stop trusting a key (after its versions are re-signed)."
        ),
    ] = None,
) -> None:
    """Sign VERSION's artifacts, as MLflow serves them, with the promotion key (DEVTOOLS_SIGNING_KEY, default
    .devtools/signing/promotion-key.pem), and store the signature with the version. Serving verifies it
    before it loads the version: in production (the prod stack, the ECS documents) an unsigned or altered
    version is refused and the current one keeps serving. `devtools promote` signs the challenger itself.

    --new-key / --retire-key rotate the key: the new public key is trusted beside the old one (with --prod,
    the prod stack's serving is recreated to read the new list; the dev stack's reads MODEL_SIGNING_PUBLIC_KEYS;
    on ECS, update that secret and redeploy serving), versions signed with either are served, then the old
    one is retired.

    Exit 17 when there is no usable key or the version's artifacts cannot be read, 16 when MLflow refuses the
    account, 8 when MLflow does not answer.
    """
    from devtools.errors import DevtoolsError, ExitCode
    from devtools.models import local_secrets, served, signing
    from devtools.stack.project import ComposeProject

    project = ComposeProject.prod() if prod else ComposeProject.dev()
    root = project.root
    if new_key or retire_key:
        if version is not None:
            raise DevtoolsError("--new-key / --retire-key take no VERSION", ExitCode.USAGE)
        if new_key:
            made, old = signing.new_key(root)
            typer.echo(f"new promotion key {made} at {signing.key_path(root)}; trusted: {_trusted(root)}")
            if old:
                typer.echo(f"the old key {old} stays trusted: retire it with `devtools sign --retire-key {old}`")
        if retire_key:
            signing.retire_key(root, retire_key)
            typer.echo(f"retired {retire_key}; trusted: {_trusted(root)}")
        _serving_trusts_the_new_list(project, prod)
        return
    if version is None:
        raise DevtoolsError("give the VERSION to sign (or --new-key / --retire-key)", ExitCode.USAGE)
    name = served.model_name(model)
    url = served.published(served.origins(project), "mlflow")
    key = signing.sign_version(local_secrets.mlflow_api(project, url), name, version, signing.key_path(root))
    typer.echo(f"signed: {name} version {version} with key {key}")


def _serving_trusts_the_new_list(project: ComposeProject, prod: bool) -> None:
    """Serving reads the trusted keys once, at start, and Compose does not recreate a container when only
    a secret file's content changed: the prod stack's serving is recreated here (healthy before this
    returns). The dev stack's comes from MODEL_SIGNING_PUBLIC_KEYS, which the engineer sets."""
    from devtools.models import signing

    if not prod:
        typer.echo(
            f"the dev stack verifies with MODEL_SIGNING_PUBLIC_KEYS: set it to {signing.trusted_path(project.root)}'s "
            "contents (.env) and run `devtools up`"
        )
        return
    if "serving" not in project.running_services():
        typer.echo("serving is not running: it reads the new list when it starts")
        return
    project.run("up", "--detach", "--wait", "--no-deps", "--no-build", "--force-recreate", "serving", capture=True)
    typer.echo("serving recreated: it trusts the new list")


def _trusted(root: Path) -> str:
    from contract.signing import fingerprint

    from devtools.models import signing

    return ", ".join(fingerprint(block) for block in signing.trusted(root)) or "none"
