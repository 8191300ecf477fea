"""tests/conftest.py's hooks, run by a real inner pytest over a copy of that conftest: under
--require-docker (CI) a skip fails the run, except in the GPU tier; a failure in the unit tier stops the
run before the Docker tier starts; the run ends with the seconds each test module took."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

TESTS = """
import pytest

def test_needs_a_missing_dependency():
    pytest.importorskip("a_module_nobody_installed")

@pytest.mark.gpu
def test_on_a_gpu_only():
    pytest.skip("no NVIDIA GPU")

@pytest.mark.needs_no_gpu
def test_only_without_a_gpu():
    pytest.skip("this machine has a GPU")

def test_that_runs():
    assert True
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    gpu: x\n    needs_no_gpu: x\n    docker: x\n")
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def test_without_require_docker_a_missing_dependency_skips(suite: pytest.Pytester) -> None:
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=3)


def test_under_require_docker_a_skip_fails_but_the_gpu_tier_may_skip(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:cacheprovider", "--require-docker")
    result.assert_outcomes(passed=1, skipped=2, failed=1)
    result.stdout.fnmatch_lines(["*skipped under --require-docker*a_module_nobody_installed*"])


def test_under_require_docker_a_module_level_skip_fails_the_collection(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_whole_module='import pytest\npytest.importorskip("a_module_nobody_installed")\n')
    result = pytester.runpytest("-p", "no:cacheprovider", "--require-docker")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*skipped under --require-docker*a_module_nobody_installed*"])


def test_under_require_gpu_a_gpu_test_that_skips_fails(suite: pytest.Pytester) -> None:
    """On a GPU machine (tests/gpu/check_workstation.py runs the tier with it) a GPU test that cannot
    run must not pass the run: a CPU build of torch, say."""
    result = suite.runpytest("-p", "no:cacheprovider", "--require-gpu")
    result.assert_outcomes(passed=1, skipped=2, failed=1)
    result.stdout.fnmatch_lines(["*skipped under --require-gpu*no NVIDIA GPU*"])


def tiered(pytester: pytest.Pytester, unit_passes: bool) -> None:
    """A suite laid out as the repository's: tests/unit, tests/docker, in that order (pyproject's testpaths)."""
    tests = pytester.mkdir("tests")
    (tests / "conftest.py").write_text(CONFTEST.read_text())
    for tier, body in (
        ("unit", f"def test_unit():\n    assert {unit_passes}\n"),
        ("docker", "def test_docker():\n    pass\n"),
    ):
        (tests / tier).mkdir()
        (tests / tier / f"test_{tier}_tier.py").write_text(body)
    pytester.makeini(
        "[pytest]\ntestpaths = tests/unit tests/docker\nmarkers =\n    gpu: x\n    needs_no_gpu: x\n    docker: x\n"
    )


def test_a_unit_failure_stops_the_run_before_the_docker_tier(pytester: pytest.Pytester) -> None:
    tiered(pytester, unit_passes=False)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)  # test_docker never ran
    result.stdout.fnmatch_lines(
        [
            "FAILED tests/unit/test_unit_tier.py::test_unit (call): *assert False*",  # named at once
            "*tier gate: 1 failed in the unit tier, so the docker tier was not started*",
        ]
    )
    assert pytester.runpytest("-p", "no:cacheprovider", "--all-tiers").parseoutcomes() == {"failed": 1, "passed": 1}


def test_a_passing_unit_tier_goes_on_to_the_docker_tier(pytester: pytest.Pytester) -> None:
    tiered(pytester, unit_passes=True)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_the_run_ends_with_the_seconds_per_test_module(pytester: pytest.Pytester) -> None:
    tiered(pytester, unit_passes=True)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "*seconds per test module (setup + call + teardown)*",
            "* s     1 tests  tests/*/test_*_tier.py",
            "* s     1 tests  tests/*/test_*_tier.py",
            "* s     2 tests  total*",
            "*2 passed*",
        ]
    )
