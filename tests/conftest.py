"""Test tiers: unit (no engine, no real processes beyond the test's own servers), integration (real
processes: launched training jobs, scripts end to end), docker (real engine; --require-docker makes a
missing one fail), gpu.

Run in that order (pyproject's testpaths), cheapest first: when a tier has a failure, the costlier tiers
after it are not started (the tier gate; --all-tiers runs them anyway), so a unit failure is reported in
minutes, not after the Docker tier; a failing test is also named the moment it fails. The run ends with
the seconds each test module took.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-docker",
        action="store_true",
        default=False,
        help="Fail (instead of skip) docker-tier tests when no Docker engine is reachable. CI sets it.",
    )
    parser.addoption(
        "--require-gpu",
        action="store_true",
        default=False,
        help="Fail (instead of skip) GPU-tier tests that cannot run (no GPU, a CPU build of torch): on a GPU "
        "machine a skip would pass the run with the GPU untested.",
    )
    parser.addoption(
        "--all-tiers",
        action="store_true",
        default=False,
        help="Run the costlier tiers (docker, gpu) even after a test of a cheaper one failed.",
    )


def _engine_reachable() -> bool:
    if not shutil.which("docker"):
        return False
    done = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, check=False)
    return done.returncode == 0


DOCKER_TIER = Path(__file__).parent / "docker"
GPU_TIER = Path(__file__).parent / "gpu"
INTEGRATION_TIER = Path(__file__).parent / "integration"


def tier(item: pytest.Item) -> str:
    """unit, integration, docker or gpu: by folder (a test outside those folders counts as unit)."""
    for folder, name in ((DOCKER_TIER, "docker"), (GPU_TIER, "gpu"), (INTEGRATION_TIER, "integration")):
        if item.path.is_relative_to(folder):
            return name
    return "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(DOCKER_TIER):
            item.add_marker(pytest.mark.docker)
    docker_items = [item for item in items if "docker" in item.keywords]
    if not docker_items or _engine_reachable():
        return
    if config.getoption("--require-docker"):
        raise pytest.UsageError("--require-docker: no Docker engine is reachable (docker version failed)")
    skip = pytest.mark.skip(reason="no Docker engine reachable (pass --require-docker to make this an error)")
    for item in docker_items:
        item.add_marker(skip)


# Under --require-docker (CI) a skip is a failure: a missing engine, Compose plugin, test dependency
# (pyproject's [test] extra) or devcontainer CLI would otherwise pass the run with the behaviour untested.
# Exempt: the GPU tier (marker `gpu`: CI has no NVIDIA GPU) and tests that only make sense without a
# GPU (marker `needs_no_gpu`), which skip on a GPU machine.
_SKIP_ALLOWED_MARKERS = ("gpu", "needs_no_gpu")


def _skip_allowed(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) is not None for name in _SKIP_ALLOWED_MARKERS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if report.skipped and item.config.getoption("--require-gpu") and item.get_closest_marker("gpu") is not None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under --require-gpu, which allows no GPU test to skip: {reason}"
        return report
    if report.skipped and item.config.getoption("--require-docker") and not _skip_allowed(item):
        if not hasattr(report, "wasxfail"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            report.outcome = "failed"
            report.longrepr = f"skipped under --require-docker, which allows no skip outside the GPU tier: {reason}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> pytest.CollectReport:
    # A module-level importorskip (a whole test directory) skips at collection, before any test exists.
    report: pytest.CollectReport = yield
    if report.skipped and collector.config.getoption("--require-docker"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under --require-docker, which allows no skip outside the GPU tier: {reason}"
    return report


# --- the tier gate ---------------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """After the last test of a tier: if anything failed so far, stop before the next tier starts (the
    session's summary then reports the failures at once). pytest checks shouldfail after each test, as
    for --maxfail: the run exits 1 (tests failed) and prints the reason."""
    outcome = yield
    session = item.session
    if (
        nextitem is not None
        and session.testsfailed
        and tier(nextitem) != tier(item)
        and not item.config.getoption("--all-tiers")
    ):
        session.shouldfail = (
            f"tier gate: {session.testsfailed} failed in the {tier(item)} tier, so the {tier(nextitem)} tier "
            "was not started (--all-tiers runs it anyway)"
        )
    return outcome


# --- seconds per test module ------------------------------------------------------------------------------
class ModuleDurations:
    """Setup + call + teardown of every test, summed per test module. A session or module fixture's work
    (an image build, a stack's start) counts towards the module whose test first needed it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.tests: dict[str, int] = defaultdict(int)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        module = report.nodeid.split("::", 1)[0]
        self.seconds[module] += report.duration
        if report.when == "setup":
            self.tests[module] += 1

    # The outermost wrapper: printed after everything else of the summary (failures, the short summary),
    # just before pytest's closing line, so a CI log ends with it.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> Generator[None]:
        yield
        if not self.seconds:
            return
        terminalreporter.write_sep("=", "seconds per test module (setup + call + teardown)")
        for module, seconds in sorted(self.seconds.items(), key=lambda entry: -entry[1]):
            terminalreporter.write_line(f"{seconds:9.1f} s  {self.tests[module]:4d} tests  {module}")
        total = sum(self.seconds.values())
        terminalreporter.write_line(f"{total:9.1f} s  {sum(self.tests.values()):4d} tests  total")


class FailuresAtOnce:
    """A failing test is named the moment it fails (the details still come in the summary): in a long run
    the first failure shows in minutes, not at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if report.failed and reporter is not None:
            lines = report.longreprtext.strip().splitlines()
            said = next((line[1:].strip() for line in lines if line.startswith("E ")), lines[-1] if lines else "")
            reporter.write_line(f"FAILED {report.nodeid} ({report.when}): {said[:200]}", red=True)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ModuleDurations(), "module-durations")
    config.pluginmanager.register(FailuresAtOnce(config), "failures-at-once")
