"""Under --require-docker (CI) a skip fails the run, except in the GPU tier: tests/conftest.py's hooks,
run by a real inner pytest over a copy of that conftest."""

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
