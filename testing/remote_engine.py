"""A real remote Docker engine on this machine, reached over SSH, that cannot see the checkout.

Privileged containers do not start here (no Docker-in-Docker; ../shared/ENVIRONMENT.md), so the
"remote host" is a second dockerd in its own mount and UTS namespaces: a tmpfs over the checkout's
parent folder and over /tmp (a bind mount of the checkout, or of a test's copy of it, is empty
there), its own host name (docker info says `remote-box`, so devtools sees another machine), its own
data and exec roots and socket, its own bridge and address pool with NAT rules of its own (the main
engine's iptables rules are untouched; never `--bridge=none`, which deletes docker0). An sshd on a
free loopback port, key login only, sets DOCKER_HOST to that socket for its sessions, so
`DOCKER_HOST=ssh://root@127.0.0.1:PORT` reaches it through the docker CLI's ssh transport, as a GPU
box would be reached. The client's key comes from an `ssh` wrapper first on PATH (the docker CLI and
devtools both run `ssh`).

Shared by tests/docker/test_remote.py and bench/bench_remote.py. Needs root, iproute2, iptables,
unshare and openssh-server (scripts/provision --tests installs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOST_NAME = "remote-box"
BRIDGE, BRIDGE_ADDRESS, BRIDGE_RANGE, POOL = "dtremote0", "10.213.0.1/24", "10.213.0.0/24", "10.214.0.0/16"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


_NAT_RULES = [
    ["-t", "nat", "POSTROUTING", "-s", BRIDGE_RANGE, "!", "-o", BRIDGE, "-j", "MASQUERADE"],
    ["-t", "nat", "POSTROUTING", "-s", POOL, "-j", "MASQUERADE"],
    ["FORWARD", "-s", BRIDGE_RANGE, "-j", "ACCEPT"],
    ["FORWARD", "-d", BRIDGE_RANGE, "-j", "ACCEPT"],
    ["FORWARD", "-s", POOL, "-j", "ACCEPT"],
    ["FORWARD", "-d", POOL, "-j", "ACCEPT"],
]


def _rule(action: str, rule: list[str]) -> list[str]:
    """iptables argv adding (-I) or deleting (-D) a rule written as [-t TABLE] CHAIN SPEC..."""
    table = rule[:2] if rule[0] == "-t" else []
    chain, *spec = rule[2:] if table else rule
    return ["iptables", *table, action, chain, *spec]


@dataclass(frozen=True)
class RemoteEngine:
    endpoint: str  # ssh://root@127.0.0.1:PORT
    socket: str  # unix:///... : the engine itself, for the test's own checks
    ssh_port: int
    env: dict[str, str]  # PATH with the ssh wrapper, DOCKER_HOST

    def docker(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """The docker CLI straight at the remote engine (not through SSH)."""
        return subprocess.run(["docker", "-H", self.socket, *args], capture_output=True, text=True, check=check)

    def cut(self) -> None:
        """Cuts the SSH link: new connections and open ones are reset."""
        for rule in self._cut_rules():
            _sh(*_rule("-I", rule))

    def restore(self) -> None:
        for rule in self._cut_rules():
            _sh(*_rule("-D", rule), check=False)

    def _cut_rules(self) -> list[list[str]]:
        # Packets to the SSH port get a reset: open connections die at their next packet, new ones at
        # once. (A rule on the reply direction too would swallow the resets: the link would hang.)
        return [["INPUT", "-p", "tcp", "--dport", str(self.ssh_port), "-j", "REJECT", "--reject-with", "tcp-reset"]]


def _state_folder() -> Path:
    """Where the engine keeps its state: it pulls GBs of images (test_remote: the four dev images), so the
    candidate with the most free space. Never under /tmp or the checkout's parent, which its namespace
    hides: /var/lib, or the folder above the checkout's parent where that is a writable folder of its own
    (a CI machine whose checkout lives on a bigger disk than its root filesystem)."""
    candidates = [Path("/var/lib")]
    above = REPO.parent.parent
    if above != Path("/") and not above.is_relative_to("/tmp") and os.access(above, os.W_OK):
        candidates.append(above)
    return max(candidates, key=lambda folder: shutil.disk_usage(folder).free)


def _wait(predicate: object, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up: {log.read_text(errors='replace')[-1500:]}")
        time.sleep(0.3)


@contextmanager
def running() -> Iterator[RemoteEngine]:
    for program in ("unshare", "iptables", "ip", "ssh-keygen"):
        if not shutil.which(program):
            raise RuntimeError(f"{program} is not installed")
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).is_file():
        raise RuntimeError("openssh-server is not installed: run scripts/provision --tests")
    root = Path(tempfile.mkdtemp(prefix="devtools-remote-", dir=_state_folder()))
    sock = f"unix://{root}/docker.sock"
    if _sh("ip", "link", "show", BRIDGE, check=False).returncode == 0:
        raise RuntimeError(
            f"bridge {BRIDGE} exists: another remote engine runs (or a killed one left it: ip link del {BRIDGE})"
        )
    daemon: subprocess.Popen[bytes] | None = None
    server: subprocess.Popen[bytes] | None = None
    added: list[list[str]] = []
    bridge = False  # undo only what this run did: another run's bridge is not ours to delete
    try:
        _sh("ip", "link", "add", BRIDGE, "type", "bridge")
        bridge = True
        _sh("ip", "addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE)
        _sh("ip", "link", "set", BRIDGE, "up")
        for rule in _NAT_RULES:
            _sh(*_rule("-I", rule))
            added.append(rule)
        dockerd = [
            "dockerd",
            f"--data-root={root}/data",
            f"--exec-root={root}/exec",
            f"--pidfile={root}/docker.pid",
            f"--host={sock}",
            f"--bridge={BRIDGE}",
            "--iptables=false",
            f"--default-address-pool=base={POOL},size=24",
        ]
        hide = " && ".join(f"mount -t tmpfs tmpfs {folder}" for folder in (REPO.parent, "/tmp"))
        script = f"hostname {HOST_NAME} && {hide} && exec {' '.join(dockerd)}"
        with (root / "dockerd.log").open("wb") as log:
            daemon = subprocess.Popen(
                ["unshare", "--mount", "--uts", "--propagation", "private", "sh", "-c", script],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        _wait(
            lambda: _sh("docker", "-H", sock, "version", check=False).returncode == 0,
            "the remote dockerd",
            root / "dockerd.log",
        )

        port = _free_port()
        _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key"))
        _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "client_key"))
        shutil.copy(root / "client_key.pub", root / "authorized_keys")
        (root / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\n"
            f"AuthorizedKeysFile {root}/authorized_keys\nPermitRootLogin prohibit-password\n"
            f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            f"PidFile {root}/sshd.pid\nSetEnv DOCKER_HOST={sock}\nMaxStartups 100\nMaxSessions 100\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        with (root / "sshd.log").open("wb") as log:
            server = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(root / "sshd_config")], stdout=log, stderr=log, start_new_session=True
            )
        wrapper = root / "bin" / "ssh"
        wrapper.parent.mkdir()
        wrapper.write_text(
            "#!/bin/sh\n"
            f"exec /usr/bin/ssh -i {root}/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            '-o LogLevel=ERROR "$@"\n'
        )
        wrapper.chmod(0o755)
        endpoint = f"ssh://root@127.0.0.1:{port}"
        env = {**os.environ, "PATH": f"{wrapper.parent}:{os.environ.get('PATH', '')}", "DOCKER_HOST": endpoint}
        _wait(
            lambda: subprocess.run(["docker", "version"], env=env, capture_output=True).returncode == 0,
            "docker over ssh",
            root / "sshd.log",
        )
        yield RemoteEngine(endpoint, sock, port, env)
    finally:
        if daemon is not None:
            ids = _sh("docker", "-H", sock, "ps", "-aq", check=False).stdout.split()
            if ids:
                _sh("docker", "-H", sock, "rm", "-f", *ids, check=False)
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
        for rule in reversed(added):
            _sh(*_rule("-D", rule), check=False)
        if bridge:
            _sh("ip", "link", "del", BRIDGE, check=False)
        shutil.rmtree(root, ignore_errors=True)
