"""A fork-server reloader for dev: the heavy imports and the loaded model stay warm in a parent process,
and every code change forks a fresh worker that imports only the (changed) serving code, and the
contract package beside it.

`uvicorn --reload` starts a new interpreter per change, so it re-imports torch, mlflow and fastapi and
reloads the model (seconds). Here a reload costs one fork plus importing this package (bytecode
compiled anew only for what changed) and building its one app.

- Zero downtime: the listening socket belongs to the parent and is inherited by every worker; the old
  worker keeps answering until the new one is ready, then drains on SIGTERM.
- A worker that fails to start (a syntax error, a failing import) never replaces the last good one:
  the error is printed, and the next change tries again.
- Triggers: file events under the package (inside the container) and SIGHUP (from the host watcher,
  for mounts where file events do not cross into containers, e.g. WSL2 or Docker Desktop).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

log = logging.getLogger("serving.reloader")

PACKAGE_DIR = Path(__file__).resolve().parent
# Imported afresh by every worker and watched for changes: this package and the contract it imports
# (at /app/contract beside /app/serving, services/contract in the checkout).
PACKAGES = ("serving", "contract")
SOURCE_DIRS = tuple(path for path in (PACKAGE_DIR, PACKAGE_DIR.parent / "contract") if path.is_dir())
# Imported once in the parent so workers inherit them already initialised.
WARM_MODULES = (
    "numpy", "pandas", "torch", "onnxruntime", "mlflow", "mlflow.pyfunc", "fastapi", "uvicorn", "prometheus_client",
)  # fmt: skip
# A change burst (an editor's save-rename dance, a git checkout) becomes one reload: watchfiles
# waits this long for quiet before it reports a batch.
DEBOUNCE_S = 0.03
# The reloaded packages' Python sources as (path, mtime, size): source_fingerprint.
Fingerprint = tuple[tuple[str, int, int], ...]


# Bytecode of the reloaded packages, compiled in the parent and inherited by every forked worker:
# path -> (the source bytes it was compiled from, the code object). The images set
# PYTHONDONTWRITEBYTECODE (no .pyc in the bind-mounted checkout), so without this every worker compiled
# every serving and contract module from source (~30 files, ~40 ms of each reload); now a reload
# compiles what was edited. A worker uses an entry only for the very bytes it reads from the file, so
# an edit is never missed (no mtime granularity to trust).
_COMPILED: dict[str, tuple[bytes, CodeType]] = {}


class _WarmSourceLoader(importlib.machinery.SourceFileLoader):
    def source_to_code(self, data: Any, path: Any, *, _optimize: int = -1) -> CodeType:  # type: ignore[override]
        known = _COMPILED.get(str(path))
        if known is not None and known[0] == bytes(data):
            return known[1]
        return super().source_to_code(data, path, _optimize=_optimize)


def _warm_finder(path: str) -> importlib.abc.PathEntryFinder:
    """The path hook for the folders that hold the reloaded packages (/app and below); others: ImportError,
    so the next hook (the usual FileFinder) takes them."""
    where = Path(path or os.getcwd()).resolve()
    if not any(where == folder.parent or where.is_relative_to(folder) for folder in SOURCE_DIRS):
        raise ImportError("not a reloaded package's folder")
    loaders = [
        (_WarmSourceLoader, importlib.machinery.SOURCE_SUFFIXES),
        (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
    ]
    return importlib.machinery.FileFinder(path, *loaders)


def _install_warm_loader() -> None:
    sys.path_hooks.insert(0, _warm_finder)
    sys.path_importer_cache.clear()  # finders made before the hook are made again, through it


def _compile_changed(before: Fingerprint, now: Fingerprint) -> None:
    """Compile, in the parent, the sources that changed since the last good worker (all at the start)."""
    unchanged = set(before)
    for entry in now:
        if entry in unchanged:
            continue
        path = entry[0]
        try:
            source = Path(path).read_bytes()
            _COMPILED[path] = (source, compile(source, path, "exec", dont_inherit=True))
        except (OSError, SyntaxError, ValueError):
            _COMPILED.pop(path, None)  # the worker's own import reports it (a reload that fails cleanly)


def _warm_imports() -> None:
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            log.warning("could not preload %s", name)


def _preload_model() -> Any:
    """The alias holder loaded once in the parent; None when MLflow is not reachable yet."""
    try:
        from serving.model.smoke_test import smoke_test
        from serving.model.store import ModelStore
        from serving.settings import Settings

        store = ModelStore(Settings.from_env())
        model = store.load(store.resolve_alias())
        smoke_test(model)  # vetted as the watcher vets a swap: a refused version is not served warm either
        before_fork = getattr(model.predictor, "before_fork", None)  # ONNX Runtime's threads (runtime.py)
        if before_fork is not None:
            before_fork()
        return model
    except Exception as error:
        log.warning("no model preloaded (%s: %s); workers load it themselves", type(error).__name__, error)
        return None


def source_fingerprint() -> Fingerprint:
    """The reloaded packages' Python sources as (path, mtime, size): equal means nothing to reload."""
    sources = (path for folder in SOURCE_DIRS for path in folder.rglob("*.py") if path.is_file())
    return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sources))


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run_worker(sock: socket.socket, warm_model: Any, ready_fd: int) -> None:
    """In the forked child: fresh serving (and contract) code, the parent's model, the parent's socket."""
    for name in [m for m in sys.modules if m.partition(".")[0] in PACKAGES]:
        del sys.modules[name]
    import uvicorn

    from serving.app import create_app

    app = create_app()
    if warm_model is not None:
        app.state.slot.swap(warm_model)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)

    config = uvicorn.Config(
        app,
        timeout_graceful_shutdown=int(os.environ.get("SERVING_GRACEFUL_TIMEOUT", "8")),
        log_level=os.environ.get("SERVING_LOG_LEVEL", "info"),
    )
    Server(config).run(sockets=[sock])


class ForkServer:
    def __init__(self, sock: socket.socket, warm_model: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.sock = sock
        self.warm_model = warm_model
        self.clock = clock
        self.worker: int | None = None
        self.fingerprint: Fingerprint = ()
        self._lock = threading.Lock()
        self._stopping = False

    def spawn(self, reason: str) -> bool:
        """Fork a worker with fresh code; it replaces the current one only once it is ready."""
        with self._lock:
            if self._stopping:
                return False
            started = self.clock()
            fingerprint = source_fingerprint()
            if self.worker is not None and fingerprint == self.fingerprint:
                # The host watcher's SIGHUP after a file event this process already acted on.
                print(f"reload: ready in 0.000s (already current: {reason})", flush=True)
                return True
            _compile_changed(self.fingerprint, fingerprint)
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(read_fd)
                for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, signal.SIG_DFL)  # uvicorn installs its own handlers
                code = 0
                try:
                    _run_worker(self.sock, self.warm_model, write_fd)
                except BaseException:
                    import traceback

                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            os.close(write_fd)
            with os.fdopen(read_fd) as ready:
                ok = ready.readline().strip() == "ready"
            if not ok:
                _, status = os.waitpid(pid, 0)
                log.error(
                    "reload failed (%s): the new worker exited with %s; the previous worker keeps serving",
                    reason,
                    os.waitstatus_to_exitcode(status),
                )
                return False
            previous, self.worker, self.fingerprint = self.worker, pid, fingerprint
            if previous is not None:
                os.kill(previous, signal.SIGTERM)  # drains its in-flight requests, then exits
                threading.Thread(target=os.waitpid, args=(previous, 0), daemon=True).start()
            log.info("reloaded in %.3fs (%s)", self.clock() - started, reason)
            print(f"reload: ready in {self.clock() - started:.3f}s ({reason})", flush=True)
            return True

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            if self.worker is not None:
                os.kill(self.worker, signal.SIGTERM)
                os.waitpid(self.worker, 0)


def _watch_files(on_change: Callable[[str], None]) -> None:
    try:
        from watchfiles import PythonFilter, watch
    except ImportError:
        log.warning("watchfiles is not installed: reloading on SIGHUP only (devtools watch sends it)")
        return

    for changes in watch(*SOURCE_DIRS, watch_filter=PythonFilter(), debounce=int(DEBOUNCE_S * 1000), step=10):
        paths = sorted({Path(path).name for _, path in changes})
        on_change(f"changed: {', '.join(paths)}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _warm_imports()
    _install_warm_loader()
    warm_model = _preload_model()
    sock = _listen(os.environ.get("SERVING_HOST", "0.0.0.0"), int(os.environ.get("SERVING_PORT", "8080")))
    server = ForkServer(sock, warm_model)
    if not server.spawn("start"):
        sys.exit(1)
    requests: list[str] = []
    wake = threading.Event()

    def request_reload(reason: str) -> None:
        requests.append(reason)
        wake.set()

    signal.signal(signal.SIGHUP, lambda *_: request_reload("SIGHUP"))
    stop = threading.Event()

    def shutdown(*_: object) -> None:
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    threading.Thread(target=_watch_files, args=(request_reload,), daemon=True).start()
    while not stop.is_set():
        wake.wait(timeout=1.0)
        wake.clear()
        if stop.is_set():
            break
        # Both triggers arrive debounced (watchfiles here, the host watcher's quiet period there); what
        # piled up during a reload is served by one more reload, or none if the code is already current.
        reasons, requests[:] = list(dict.fromkeys(requests)), []
        if reasons:
            server.spawn("; ".join(reasons))
    server.stop()
