"""A CycloneDX SBOM per image: its Debian packages (dpkg's database) and its Python environment (the
distributions `python` on the image's PATH sees), read from a throwaway container of the image and
written by cyclonedx-python-lib as CycloneDX 1.6 JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from devtools import proc
from devtools.errors import DevtoolsError, ExitCode

_PYTHON_MARK = "--devtools-python--"
# The image's own Python lists its distributions (no tool installed in the image, nothing written).
_LIST_PYTHON = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted({(d.metadata['Name'], d.version) for d in m.distributions() if d.metadata['Name']})))"
)
_SCRIPT = f"""
. /etc/os-release 2>/dev/null && echo "OS=$ID $VERSION_ID"
command -v dpkg-query >/dev/null 2>&1 && dpkg-query -W -f '${{Package}}\\t${{Version}}\\t${{Architecture}}\\n'
echo {_PYTHON_MARK}
python -c "{_LIST_PYTHON}" 2>/dev/null || echo '[]'
"""


@dataclass(frozen=True)
class Inventory:
    os_id: str  # "debian 12"
    debian: list[tuple[str, str, str]]  # (package, version, architecture)
    python: list[tuple[str, str]]  # (distribution, version)


def inventory(image: str) -> Inventory:
    done = proc.run(
        ["docker", "run", "--rm", "--user", "0:0", "--entrypoint", "sh", image, "-c", _SCRIPT], capture=True
    )
    head, _, tail = done.stdout.partition(_PYTHON_MARK)
    lines = head.splitlines()
    os_id = next((line[3:] for line in lines if line.startswith("OS=")), "")
    debian = [tuple(line.split("\t")) for line in lines if line.count("\t") == 2]
    try:
        python = [(str(name), str(version)) for name, version in json.loads(tail.strip() or "[]")]
    except ValueError as exc:
        raise DevtoolsError(f"{image}: could not list its Python packages ({exc})", ExitCode.FAILURE) from exc
    return Inventory(os_id, [(p, v, a) for p, v, a in debian], python)


def write(image: str, found: Inventory, path: Path) -> int:
    """The SBOM of `image` at `path`; returns the number of components."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.bom_ref import BomRef
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    name, _, version = image.rpartition(":")
    root = Component(name=name, version=version, type=ComponentType.CONTAINER, bom_ref=BomRef(image))
    distro = found.os_id.replace(" ", "-")  # debian-12, as purl's distro qualifier spells it
    components = []
    for package, package_version, arch in found.debian:
        qualifiers = {"arch": arch, **({"distro": distro} if distro else {})}
        purl = PackageURL("deb", "debian", package, package_version, qualifiers)
        components.append(Component(name=package, version=package_version, purl=purl, bom_ref=BomRef(purl.to_string())))
    for distribution, distribution_version in found.python:
        purl = PackageURL("pypi", None, distribution.lower(), distribution_version)
        components.append(
            Component(name=distribution, version=distribution_version, purl=purl, bom_ref=BomRef(purl.to_string()))
        )
    bom = Bom()
    bom.metadata.component = root
    for component in components:
        bom.components.add(component)
    bom.register_dependency(root, components)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(JsonV1Dot6(bom).output_as_string(indent=2) + "\n")
    return len(components)
