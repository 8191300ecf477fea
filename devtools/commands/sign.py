"""devtools sign: sign a registered model version with the promotion key, or make / retire a key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


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

    --new-key / --retire-key rotate the key: the new public key is trusted beside the old one (restart
    serving, or redeploy it with the new MODEL_SIGNING_PUBLIC_KEYS), versions signed with either are served,
    then the old one is retired.

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
        typer.echo(f"serving reads the trusted keys at start: restart it (`devtools up{' --prod' if prod else ''}`)")
        return
    if version is None:
        raise DevtoolsError("give the VERSION to sign (or --new-key / --retire-key)", ExitCode.USAGE)
    name = served.model_name(model)
    url = served.published(served.origins(project), "mlflow")
    key = signing.sign_version(local_secrets.mlflow_api(project, url), name, version, signing.key_path(root))
    typer.echo(f"signed: {name} version {version} with key {key}")


def _trusted(root: Path) -> str:
    from contract.signing import fingerprint

    from devtools.models import signing

    return ", ".join(fingerprint(block) for block in signing.trusted(root)) or "none"
