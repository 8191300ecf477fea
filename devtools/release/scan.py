"""What in an image is fixable: OS packages with a pending Debian security update, checked for real
against the Debian security archive (a throwaway container of the image asks apt, as root, with only
`<codename>-security` as its source); and, for Python packages, a plain statement of whether an
advisory source is reachable from here. No finding is ever made up: what is not checked says why.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from devtools import proc
from devtools.errors import DevtoolsError, ExitCode

OSV_API = "https://api.osv.dev/v1/query"
# `apt-get -s upgrade` with only the security archive as source: every `Inst` line is a pending
# security update. `Inst libssl3 [3.0.20-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/... [amd64])`
_INST = re.compile(r"^Inst (\S+) \[([^\]]+)\] \((\S+) ([^ ]*Security[^ ]*)", re.M)
_NO_APT = 3  # the script's exit code when the image has no apt (not Debian-based, or distroless)
_SCRIPT = f"""
set -e
command -v apt-get >/dev/null 2>&1 || exit {_NO_APT}
. /etc/os-release
echo "OS=$PRETTY_NAME"
mkdir -p /tmp/devtools-scan/lists/partial
echo "deb http://deb.debian.org/debian-security ${{VERSION_CODENAME}}-security main" >/tmp/devtools-scan/security.list
set -- -o Dir::Etc::SourceList=/tmp/devtools-scan/security.list -o Dir::Etc::SourceParts=/dev/null \\
  -o Dir::State::Lists=/tmp/devtools-scan/lists -o Debug::NoLocking=1
apt-get "$@" update -qq
apt-get "$@" -s upgrade
"""


@dataclass(frozen=True)
class OsUpdate:
    package: str
    installed: str
    fixed: str

    def line(self) -> str:
        return f"{self.package} {self.installed} -> {self.fixed}"


@dataclass(frozen=True)
class ImageScan:
    image: str
    os_name: str  # PRETTY_NAME, or "" when not checked
    os_updates: list[OsUpdate] = field(default_factory=list)
    os_note: str = ""  # why the OS packages were not checked, when they were not
    python_note: str = ""

    @property
    def fixable(self) -> int:
        return len(self.os_updates)

    def summary(self) -> str:
        if self.os_note:
            os_part = f"OS packages not checked: {self.os_note}"
        elif self.os_updates:
            shown = ", ".join(update.line() for update in self.os_updates[:5])
            more = f" and {len(self.os_updates) - 5} more" if len(self.os_updates) > 5 else ""
            os_part = f"{len(self.os_updates)} OS packages with a pending Debian security update ({shown}{more})"
        else:
            os_part = f"no pending Debian security update ({self.os_name})"
        return f"{self.image}: {os_part}; Python packages: {self.python_note}"

    def as_dict(self) -> dict[str, object]:
        return {
            "os": self.os_name,
            "os_security_updates": [update.__dict__ for update in self.os_updates],
            "os_note": self.os_note,
            "python": self.python_note,
        }


def parse_pending(apt_output: str) -> list[OsUpdate]:
    return [OsUpdate(name, installed, fixed) for name, installed, fixed, _ in _INST.findall(apt_output)]


def scan(image: str, python_note: str) -> ImageScan:
    argv = ["docker", "run", "--rm", "--user", "0:0", "--entrypoint", "sh", image, "-c", _SCRIPT]
    done = proc.run(argv, capture=True, check=False)
    if done.returncode == _NO_APT:
        return ImageScan(image, "", os_note="the image has no apt (not Debian-based)", python_note=python_note)
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        if "No such image" in done.stderr or "Unable to find image" in done.stderr:
            raise DevtoolsError(f"{image} is not on this engine; build it first", ExitCode.USAGE)
        # apt could not reach the archive: say so; never report a clean image that was not checked.
        note = f"the Debian security archive did not answer ({said[-1] if said else done.returncode})"
        return ImageScan(image, "", os_note=note, python_note=python_note)
    os_name = next((line[3:] for line in done.stdout.splitlines() if line.startswith("OS=")), "")
    return ImageScan(image, os_name, parse_pending(done.stdout), python_note=python_note)


def python_advisories_note() -> str:
    """Whether a Python advisory source answers from here; this scanner checks none itself."""
    try:
        request = urllib.request.Request(OSV_API, data=b'{"package":{"name":"pip","ecosystem":"PyPI"}}', method="POST")
        with urllib.request.urlopen(request, timeout=5):
            reachable = True
    except urllib.error.HTTPError:
        reachable = True  # it answered
    except OSError:
        reachable = False
    if reachable:
        return "not checked here (OSV answers: run `pip-audit` or Trivy, as CI's release job does)"
    return "not checked: no advisory source is reachable from here (OSV does not answer); CI's Trivy step scans them"
