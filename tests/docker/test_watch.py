"""The dev loop for real: the host watcher + the serving fork-server reloader against the running stack."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.stack_harness import PROJECT, REPO, Stack, get_json, wait_for

APP = REPO / "services" / "serving" / "app.py"
REQUIREMENTS = REPO / "services" / "serving" / "requirements.txt"
SERVING_LOCK = REPO / "locks" / "serving.linux-amd64.txt"  # what the serving image installs from
HEALTH_LINE = '        return {"status": "ok"}'


class Watcher:
    """`devtools watch` in a subprocess (plain line output: stdout is not a terminal)."""

    def __init__(self, stack: Stack, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools", "watch"],
            cwd=REPO,
            env=stack.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            # Ctrl-C must reach it even when pytest runs as a background job, whose SIGINT the shell
            # ignores: an ignored SIGINT is inherited, and Python then never raises KeyboardInterrupt.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        wait_for(lambda: "watching" in self.output(), timeout=60)

    def output(self) -> str:
        return self.log.read_text()

    def lines(self, pattern: str) -> list[str]:
        return [line for line in self.output().splitlines() if re.search(pattern, line)]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=15)


def container_id(service: str) -> str:
    import docker

    client = docker.from_env()
    labels = [f"com.docker.compose.project={PROJECT}", f"com.docker.compose.service={service}"]
    return str(client.containers.list(filters={"label": labels})[0].id)


@pytest.fixture(scope="module")
def watcher(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watcher]:
    wait_for(lambda: get_json(stack.url("serving", "/ready"))["status"] == "ready", timeout=120)
    original_app, original_requirements = APP.read_text(), REQUIREMENTS.read_text()
    original_locks = {path: path.read_text() for path in (REPO / "locks").glob("*.txt")}
    running = Watcher(stack, tmp_path_factory.mktemp("watch") / "watch.log")
    try:
        yield running
    finally:
        try:
            running.stop()
        finally:
            # The checkout is the developer's: its files come back even when stopping the watcher failed.
            APP.write_text(original_app)
            REQUIREMENTS.write_text(original_requirements)
            for path, text in original_locks.items():
                path.write_text(text)
            for leftover in (REPO / "services" / "serving").glob("_burst_*.py"):
                leftover.unlink()


def _set_health(marker: str) -> None:
    text = APP.read_text()
    assert HEALTH_LINE in text or "probe" in text
    text = re.sub(
        r'        return \{"status": "ok".*\}', f'        return {{"status": "ok", "probe": "{marker}"}}', text
    )
    APP.write_text(text)


def test_source_edit_is_live_without_recreating_the_container_or_reloading_the_model(
    stack: Stack, watcher: Watcher
) -> None:
    before_id = container_id("serving")
    model_before = get_json(stack.url("serving", "/model"))
    marker = uuid.uuid4().hex[:8]
    _set_health(marker)
    wait_for(lambda: get_json(stack.url("serving", "/health")).get("probe") == marker, timeout=15, interval=0.05)
    assert container_id("serving") == before_id
    model_after = get_json(stack.url("serving", "/model"))
    assert model_after["loaded_at"] == model_before["loaded_at"]  # the warm model was handed over, not reloaded
    assert model_after["version"] == model_before["version"]
    wait_for(lambda: watcher.lines(r"^serving: services/serving/app\.py changed .* -> restart$"), timeout=15)


def test_syntax_error_keeps_the_last_good_code_serving(stack: Stack, watcher: Watcher) -> None:
    marker = uuid.uuid4().hex[:8]
    _set_health(marker)
    wait_for(lambda: get_json(stack.url("serving", "/health")).get("probe") == marker, timeout=15, interval=0.05)
    good = APP.read_text()
    APP.write_text(good + "\ndef broken(:\n")
    wait_for(lambda: watcher.lines(r"reload failed"), timeout=20)
    assert get_json(stack.url("serving", "/health")).get("probe") == marker  # the old worker still answers
    fixed = uuid.uuid4().hex[:8]
    APP.write_text(good.replace(marker, fixed))
    wait_for(lambda: get_json(stack.url("serving", "/health")).get("probe") == fixed, timeout=15, interval=0.05)


def test_burst_of_a_thousand_files_gives_at_most_one_restart(stack: Stack, watcher: Watcher) -> None:
    time.sleep(1.0)
    before = len(watcher.lines(r"^serving: .* -> restart$"))
    directory = REPO / "services" / "serving"
    for i in range(1000):
        (directory / f"_burst_{i}.py").write_text(f"VALUE = {i}\n")
    wait_for(lambda: len(watcher.lines(r"^serving: .* -> restart$")) > before, timeout=30)
    time.sleep(3.0)  # anything else the burst would trigger shows up by now
    restarts = watcher.lines(r"^serving: .* -> restart$")[before:]
    assert len(restarts) == 1, restarts
    assert "1000 files changed" in restarts[0]
    assert watcher.lines(r"^training: ") == []


def test_a_touched_lock_or_its_resolver_notes_do_nothing(stack: Stack, watcher: Watcher) -> None:
    """A relock rewrites every lock's notes (`via` lines, the inputs digest) even when an image's packages
    stay the same: that image must not be rebuilt."""
    before = len(watcher.output())
    serving = container_id("serving")
    os.utime(SERVING_LOCK)
    SERVING_LOCK.write_text(SERVING_LOCK.read_text().replace("    # via", "    #   via", 1) + "\n")
    time.sleep(1.0)  # past the debounce: the touch and the edit make their own batch
    # A change the watcher must act on, made after them: once it is live, the watcher has judged the two
    # before it (it handles batches in order). A watcher that died, or never saw them, fails here.
    marker = uuid.uuid4().hex[:8]
    _set_health(marker)
    # The reloader in the container may see the edit by itself: the watcher's own line is the proof.
    restarted = r"^serving: services/serving/app\.py changed .* -> restart$"
    wait_for(lambda: any(re.search(restarted, line) for line in watcher.output()[before:].splitlines()), timeout=15)
    wait_for(lambda: get_json(stack.url("serving", "/health")).get("probe") == marker, timeout=15, interval=0.05)
    since = watcher.output()[before:].splitlines()
    assert [line for line in since if "locks/" in line or "rebuild" in line] == [], since
    assert [line for line in since if "-> restart" in line] == [line for line in since if "app.py changed" in line]
    assert container_id("serving") == serving  # not rebuilt, not recreated


# The rebuild installs serving's whole lock again (torch included): minutes, not the default 5.
@pytest.mark.timeout(900)
def test_requirements_change_rebuilds_only_serving(stack: Stack, watcher: Watcher) -> None:
    """A requirement added and relocked, as a developer does: every lock is rewritten (its notes), only
    serving's packages change, and only serving is rebuilt."""
    others = {service: container_id(service) for service in ("mlflow", "training")}
    serving_before = container_id("serving")
    # A package serving's lock does not hold yet (six, for one, comes with python-dateutil already).
    REQUIREMENTS.write_text(REQUIREMENTS.read_text() + "tomli-w==1.2.*\n")
    stack.devtools("lock", timeout=300)
    wait_for(
        lambda: watcher.lines(r"^serving: locks/serving\.linux-amd64\.txt changed \(\w+ -> \w+\) -> rebuild$"),
        timeout=30,
    )
    wait_for(lambda: watcher.lines(r"^serving: (ok|FAILED).*rebuilt"), timeout=900, interval=2)
    assert watcher.lines(r"^serving: ok .*rebuilt and recreated")
    assert container_id("serving") != serving_before
    assert {service: container_id(service) for service in others} == others
    assert not watcher.lines(r"^(mlflow|training): .*-> rebuild")
    wait_for(lambda: get_json(stack.url("serving", "/ready"))["status"] == "ready", timeout=180)
