"""One Compose service read as a deployable workload, whatever the target: its `x-deploy` block over its
Compose keys over the stack's defaults (defaults.py).

What a target adds (its own extension key, its size and limit rules, what a secret reference looks
like there) it reads on top of this, in its own package (devtools.deploy.targets). Every problem is a
DevtoolsError naming the service and the key, in one line; secret values are never echoed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NoReturn
from urllib.parse import urlsplit

from devtools.deploy import defaults, units
from devtools.deploy.secrets import has_uri_password, secret_reason
from devtools.errors import DevtoolsError, ExitCode

EXTENSION = "x-deploy"
# Compose's healthcheck defaults, so a target probes what Compose probes.
_COMPOSE_HEALTH_DEFAULTS = {"interval": 30, "timeout": 30, "retries": 3, "start_period": 0}

KEYS = (
    "kind",
    "cpu",
    "memory",
    "secrets",
    "environment",
    "entrypoint",
    "command",
    "healthcheck",
    "writable-paths",
    "desired-count",
    "load-balancer",
    "autoscaling",
    "gpus",
    "nodes",
)
_SERVICE_ONLY_KEYS = ("desired-count", "load-balancer", "autoscaling")
_JOB_ONLY_KEYS = ("gpus", "nodes")
_AUTOSCALING_KEYS = ("min", "max", "metric", "target", "scale-in-cooldown", "scale-out-cooldown", "resource-label")
_METRICS = ("cpu", "requests")


class Kind(str, Enum):
    SERVICE = "service"  # long-running, behind a load balancer when it publishes a port
    TASK = "task"  # a job that runs to completion (training, seeding)
    SKIP = "skip"  # not deployed (the build-only base image)


@dataclass(frozen=True)
class Port:
    container_port: int
    protocol: str


@dataclass(frozen=True)
class HealthCheck:
    """In seconds, as Compose has it; a target applies its own bounds."""

    command: tuple[str, ...]
    interval: int
    timeout: int
    retries: int
    start_period: int


@dataclass(frozen=True)
class Autoscaling:
    min_capacity: int
    max_capacity: int
    metric: str  # cpu (percent) or requests (per task)
    target: float
    scale_in_cooldown: int
    scale_out_cooldown: int
    resource_label: str | None


@dataclass(frozen=True)
class Size:
    """CPU units (1024 per vCPU) and MiB. `explicit`: written in x-deploy as a task size; otherwise
    taken from Compose's resource limits (`from_limits`) or the stack's defaults."""

    cpu: int
    memory: int
    explicit: bool = False
    from_limits: bool = False


@dataclass(frozen=True)
class Workload:
    name: str
    kind: Kind
    repository: str  # the Compose image without its tag
    size: Size
    environment: Mapping[str, str]
    secrets: Mapping[str, str]  # variable -> a reference to the secret (its form is the target's to check)
    entrypoint: tuple[str, ...] | None
    command: tuple[str, ...] | None
    ports: tuple[Port, ...]
    health: HealthCheck | None
    # The path of the Compose healthcheck's URL: what a load balancer should probe.
    readiness_path: str | None
    stop_timeout: int
    writable_paths: tuple[str, ...]
    init: bool
    user: str
    working_dir: str | None
    desired_count: int
    load_balancer_port: int | None
    autoscaling: Autoscaling | None
    gpus: int = 0  # GPUs per task (per node)
    nodes: int = 1  # > 1: one job over that many machines

    @property
    def cpu(self) -> int:
        return self.size.cpu

    @property
    def memory(self) -> int:
        return self.size.memory


def read_workload(name: str, service: Mapping[str, Any], *, base_images: set[str]) -> Workload | None:
    """The deployable view of one Compose service, or None when it is not deployed."""
    return _Reader(name, service).read(base_images)


def extension(name: str, service: Mapping[str, Any], key: str, known: tuple[str, ...]) -> Mapping[str, Any]:
    """A service's extension block (`x-deploy`, or a target's own), checked for unknown keys."""
    block = service.get(key)
    if block is None:
        return {}
    if not isinstance(block, Mapping):
        raise DevtoolsError(f"{name}: {key} must be a mapping", ExitCode.FAILURE)
    unknown = sorted(set(block) - set(known))
    if unknown:
        raise DevtoolsError(f"{name}: unknown {key} key '{unknown[0]}' (known: {', '.join(known)})", ExitCode.FAILURE)
    return block


class _Reader:
    def __init__(self, name: str, service: Mapping[str, Any]) -> None:
        self.name = name
        self.service = service
        self.ext = extension(name, service, EXTENSION, KEYS)
        self.defaults = defaults.for_service(name)

    def fail(self, message: str) -> NoReturn:
        raise DevtoolsError(f"{self.name}: {message}", ExitCode.FAILURE)

    def read(self, base_images: set[str]) -> Workload | None:
        kind = self._kind(base_images)
        if kind is Kind.SKIP:
            return None
        if kind is Kind.TASK:
            misplaced = [key for key in _SERVICE_ONLY_KEYS if key in self.ext]
            if misplaced:
                self.fail(
                    f"{EXTENSION}.{misplaced[0]} applies to services only, and this is a run-task job "
                    f"(it publishes no port; {EXTENSION}.kind: service makes it a service)"
                )
        elif misplaced := [key for key in _JOB_ONLY_KEYS if key in self.ext]:
            self.fail(f"{EXTENSION}.{misplaced[0]} applies to run-task jobs (training) only, and this is a service")
        environment, secrets = self._environment()
        ports = self._ports()
        desired = self._int("desired-count", self.defaults.desired_count, minimum=0)
        return Workload(
            name=self.name,
            kind=kind,
            repository=self._repository(),
            size=self._size(),
            environment=environment,
            secrets=secrets,
            entrypoint=self._argv("entrypoint", kind),
            command=self._argv("command", kind),
            ports=ports,
            health=self._health(),
            readiness_path=_url_path(self.service.get("healthcheck")),
            stop_timeout=self._stop_timeout(environment),
            writable_paths=self._writable_paths(),
            init=bool(self.service.get("init")),
            user=str(self.service.get("user") or defaults.IMAGE_USER),
            working_dir=self.service.get("working_dir"),
            desired_count=desired,
            load_balancer_port=self._load_balancer_port(kind, ports),
            autoscaling=self._autoscaling(kind, desired),
            gpus=self._int("gpus", 0, minimum=0),
            nodes=self._int("nodes", 1, minimum=1),
        )

    def _kind(self, base_images: set[str]) -> Kind:
        if "kind" in self.ext:
            try:
                return Kind(self.ext["kind"])
            except ValueError:
                self.fail(f"{EXTENSION}.kind '{self.ext['kind']}': expected one of {', '.join(k.value for k in Kind)}")
        if self.service.get("image") in base_images:
            return Kind.SKIP
        return Kind.SERVICE if self.service.get("ports") else Kind.TASK

    def _repository(self) -> str:
        image = self.service.get("image")
        if not image:
            self.fail("no image: a deployment pulls every image from a registry; set `image:` in the Compose file")
        repository = str(image).split("@", 1)[0]
        last = repository.rsplit("/", 1)[-1]
        if ":" in last:
            repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
        return repository

    def _size(self) -> Size:
        try:
            if "cpu" in self.ext or "memory" in self.ext:
                cpu = units.cpu_units(self.ext.get("cpu", self.defaults.cpu))
                memory = units.mebibytes(self.ext.get("memory", self.defaults.memory))
                return Size(cpu, memory, explicit=True)
            limits = ((self.service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
            if limits.get("cpus") or limits.get("memory"):
                cpu = units.vcpus_to_units(limits["cpus"]) if limits.get("cpus") else self.defaults.cpu
                memory = units.compose_bytes_to_mib(limits["memory"]) if limits.get("memory") else self.defaults.memory
                return Size(cpu, memory, from_limits=True)
            return Size(self.defaults.cpu, self.defaults.memory)
        except ValueError as exc:
            self.fail(f"task size: {exc}")

    def _environment(self) -> tuple[dict[str, str], dict[str, str]]:
        declared = self.service.get("environment") or {}
        if isinstance(declared, list):  # the list form, should a config not come from `docker compose config`
            declared = dict(str(item).partition("=")[::2] for item in declared)
        # A null value means "from the host's environment" in Compose: nothing to pass to a deployment.
        environment = {key: str(value) for key, value in declared.items() if value is not None}
        for key, value in self._mapping("environment").items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = str(value)
        secrets: dict[str, str] = {}
        for key, reference in self._mapping("secrets").items():
            if not isinstance(reference, str):
                self.fail(f"{EXTENSION}.secrets.{key} must be a reference to a secret (a string)")
            secrets[key] = reference
            environment.pop(key, None)
            # KEY_FILE is Compose's way to the same secret (a file under /run/secrets): the target injects KEY.
            environment.pop(f"{key}_FILE", None)
        for key in [
            key for key, value in environment.items() if key.endswith("_FILE") and value.startswith("/run/secrets/")
        ]:
            # Compose's secret files are local plumbing: a target injects the secret itself (x-deploy.secrets);
            # without that declaration the image says at start which secret it lacks.
            environment.pop(key)
        for key, value in environment.items():
            reason = secret_reason(key, value)
            if reason:
                self.fail(
                    f"environment variable {key} looks like a secret ({reason}); declare it under "
                    f"{EXTENSION}.secrets as a reference to a secret store, never as a plaintext value"
                )
        return dict(sorted(environment.items())), dict(sorted(secrets.items()))

    def _argv(self, key: str, kind: Kind) -> tuple[str, ...] | None:
        value = self.ext[key] if key in self.ext else self.service.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(arg, str | int | float) for arg in value):
            self.fail(f"{key} must be a list of strings")
        argv = tuple(str(arg) for arg in value)
        if any(has_uri_password(arg) for arg in argv):
            self.fail(f"{key} contains a URI with a password; pass it as an {EXTENSION}.secrets environment variable")
        if kind is Kind.TASK and key not in self.ext and argv in defaults.KEEP_ALIVE_COMMANDS:
            return None
        return argv

    def _ports(self) -> tuple[Port, ...]:
        ports: list[Port] = []
        for entry in self.service.get("ports") or []:
            if isinstance(entry, Mapping):
                target, protocol = entry.get("target"), str(entry.get("protocol") or "tcp")
            else:
                spec, _, protocol = str(entry).partition("/")
                target, protocol = spec.rsplit(":", 1)[-1], protocol or "tcp"
            try:
                port = Port(int(str(target)), protocol.lower())
            except ValueError:
                self.fail(f"ports: cannot read the container port of '{entry}'")
            if port not in ports:
                ports.append(port)
        return tuple(ports)

    def _health(self) -> HealthCheck | None:
        source = self.ext["healthcheck"] if "healthcheck" in self.ext else self.service.get("healthcheck")
        where = f"{EXTENSION}.healthcheck" if "healthcheck" in self.ext else "healthcheck"
        if not source:
            return None
        if not isinstance(source, Mapping):
            self.fail(f"{where} must be a mapping like Compose's healthcheck")
        if source.get("disable"):
            return None
        test = source.get("test")
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        if not isinstance(test, list) or not test or test[0] == "NONE":
            return None
        if test[0] not in ("CMD", "CMD-SHELL") or len(test) < 2:
            self.fail(f"{where}.test must start with CMD or CMD-SHELL and name a command")
        values = {**_COMPOSE_HEALTH_DEFAULTS}
        for key in ("interval", "timeout", "start_period"):
            if source.get(key) is not None:
                try:
                    values[key] = units.whole_seconds(source[key])
                except ValueError as exc:
                    self.fail(f"{where}.{key}: {exc}")
        if source.get("retries") is not None:
            values["retries"] = int(source["retries"])
        return HealthCheck(
            command=tuple(str(arg) for arg in test),
            interval=values["interval"],
            timeout=values["timeout"],
            retries=values["retries"],
            start_period=values["start_period"],
        )

    def _stop_timeout(self, environment: Mapping[str, str]) -> int:
        grace = self.service.get("stop_grace_period")
        try:
            stop = units.whole_seconds(grace) if grace is not None else defaults.STOP_TIMEOUT_S
        except ValueError as exc:
            self.fail(f"stop_grace_period: {exc}")
        graceful: int | None = self.defaults.graceful_timeout
        if defaults.SERVING_GRACEFUL_TIMEOUT_ENV in environment:
            try:
                graceful = units.whole_seconds(environment[defaults.SERVING_GRACEFUL_TIMEOUT_ENV])
            except ValueError as exc:
                self.fail(f"{defaults.SERVING_GRACEFUL_TIMEOUT_ENV}: {exc}")
        if graceful is not None and stop <= graceful:
            self.fail(
                f"stop_grace_period {stop} s must exceed the server's graceful-shutdown timeout ({graceful} s, "
                f"{defaults.SERVING_GRACEFUL_TIMEOUT_ENV}), or in-flight requests are killed"
            )
        return stop

    def _writable_paths(self) -> tuple[str, ...]:
        paths: list[str] = []
        for volume in self.service.get("volumes") or []:
            if isinstance(volume, Mapping):
                kind, target, source = volume.get("type", "volume"), volume.get("target"), volume.get("source")
            else:
                parts = str(volume).split(":")
                kind = "bind" if parts[0].startswith((".", "/", "~")) and len(parts) > 1 else "volume"
                target, source = (parts[1] if len(parts) > 1 else parts[0]), parts[0]
            if kind == "bind":
                self.fail(f"bind mount of {source} cannot be deployed; bake the files into the image")
            paths.append(str(target))
        tmpfs = self.service.get("tmpfs") or []
        for entry in [tmpfs] if isinstance(tmpfs, str) else tmpfs:
            paths.append(str(entry).split(":", 1)[0])
        extra = self.ext.get("writable-paths") or []
        if not isinstance(extra, list):
            self.fail(f"{EXTENSION}.writable-paths must be a list of absolute paths")
        paths += [str(path) for path in extra]
        paths += defaults.ALWAYS_WRITABLE
        relative = [path for path in paths if not path.startswith("/")]
        if relative:
            self.fail(f"writable path '{relative[0]}' must be absolute")
        return tuple(dict.fromkeys(path.rstrip("/") or "/" for path in paths))

    def _load_balancer_port(self, kind: Kind, ports: tuple[Port, ...]) -> int | None:
        if kind is not Kind.SERVICE:
            return None
        value = self.ext.get("load-balancer", True)
        if value is False:
            return None
        if value is True:
            return ports[0].container_port if ports else None
        if isinstance(value, int) and any(port.container_port == value for port in ports):
            return value
        self.fail(f"{EXTENSION}.load-balancer must be true, false, or one of the service's container ports")

    def _autoscaling(self, kind: Kind, desired: int) -> Autoscaling | None:
        value = self.ext.get("autoscaling", self.defaults.autoscaling)
        if kind is not Kind.SERVICE or value is None or value is False:
            return None
        if value is True:
            value = self.defaults.autoscaling or {}
        where = f"{EXTENSION}.autoscaling"
        if not isinstance(value, Mapping):
            self.fail(f"{where} must be a mapping, or false")
        unknown = sorted(set(value) - set(_AUTOSCALING_KEYS))
        if unknown:
            self.fail(f"unknown {where} key '{unknown[0]}' (known: {', '.join(_AUTOSCALING_KEYS)})")
        merged = {**(self.defaults.autoscaling or {}), **value}
        metric = str(merged.get("metric", "cpu"))
        if metric not in _METRICS:
            self.fail(f"{where}.metric '{metric}': expected cpu or requests")
        try:
            low = int(str(merged.get("min", max(desired, 1))))
            high = int(str(merged.get("max", 3 * low)))
            target = float(str(merged.get("target", 60 if metric == "cpu" else 1000)))
            scale_in = units.whole_seconds(merged.get("scale-in-cooldown", 300))
            scale_out = units.whole_seconds(merged.get("scale-out-cooldown", 60))
        except ValueError as exc:
            self.fail(f"{where}: {exc}")
        if not 1 <= low <= high:
            self.fail(f"{where}: need 1 <= min <= max, got min {low}, max {high}")
        if not low <= desired <= high:
            self.fail(f"desired count {desired} is outside {where} min {low} / max {high}")
        if target <= 0 or (metric == "cpu" and target > 100):
            self.fail(f"{where}.target {target:g} is not a usable {metric} target")
        label = merged.get("resource-label")
        return Autoscaling(low, high, metric, target, scale_in, scale_out, str(label) if label else None)

    def _mapping(self, key: str) -> Mapping[str, Any]:
        value = self.ext.get(key) or {}
        if not isinstance(value, Mapping):
            self.fail(f"{EXTENSION}.{key} must be a mapping of NAME: value")
        return value

    def _int(self, key: str, default: int, *, minimum: int) -> int:
        return whole_number(self.name, EXTENSION, self.ext, key, default, minimum=minimum)


def whole_number(service: str, block: str, ext: Mapping[str, Any], key: str, default: int, *, minimum: int) -> int:
    """`block.key` of an extension block as a whole number of at least `minimum` (a FAILURE otherwise)."""
    value = ext.get(key, default)
    try:
        number = int(str(value))
    except ValueError:
        raise DevtoolsError(f"{service}: {block}.{key} '{value}' is not a whole number", ExitCode.FAILURE) from None
    if number < minimum:
        raise DevtoolsError(f"{service}: {block}.{key} {number} is below {minimum}", ExitCode.FAILURE)
    return number


def _url_path(healthcheck: Mapping[str, Any] | None) -> str | None:
    """The path of the first http(s) URL in a healthcheck's test, like /ready."""
    test = (healthcheck or {}).get("test") or []
    for arg in [test] if isinstance(test, str) else test:
        for word in str(arg).split():
            if word.startswith(("http://", "https://")):
                parts = urlsplit(word)
                return parts.path + (f"?{parts.query}" if parts.query else "") or "/"
    return None
