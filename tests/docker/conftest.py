"""Docker tier fixtures (the harness lives in testing/stack_harness.py), and each test's time limit.

pytest-timeout's limit (pyproject's `timeout`) fits what one test does itself. A fixture that builds
images or starts a stack does that work once per run, inside the first test that needs it; on a fresh
machine, with nothing built, that is minutes. So that test, and only it, gets the fixture's budget on
top of its own limit: a hang anywhere else still fails within minutes.
"""

from __future__ import annotations

import pytest

from testing.stack_harness import postgres, prod_images, stack, stack_env  # noqa: F401

# Seconds a fixture may add to the first test that sets it up: its cold cost on a fresh 2-core machine
# (bench/RESULTS.md, "Docker tier") with a margin. Module-scoped ones are charged once per module.
SETUP_BUDGET_S = {
    "stack": 1200,  # every dev image built (torch twice), then `up` with the first seed
    "prod_images": 900,  # the prod images built (their deps stages are the dev images')
    "prod": 300,  # test_prod_serving: the prod stack up and seeded
    "ecs_local": 600,  # test_deploy_run_local: the stand-ins' images built, the tasks run to healthy
    "run": 300,  # test_devcontainer: a user and a copy of the checkout
    "up": 900,  # test_devcontainer: `devcontainer up` builds its own images and starts the stack
    "remote": 1200,  # test_remote: dev images published, a second engine, and them in it
    "registry": 600,  # test_prebuilt: base and mlflow published to a fresh registry
    "stale_image": 300,  # test_scan: the stale base, once per base image
    "arm64_base_env": 900,  # test_release: `scripts/provision arm64` (debootstrap under QEMU) once per machine
    "versions": 600,  # test_challenger: a trained challenger
    "mlflow_on_postgres": 180,
    "served": 600,  # test_second_model: the diabetes recipe seeded
    "lab": 300,  # test_notebook: JupyterLab started
    "watcher": 120,
}


def _limit(item: pytest.Item, default: float) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is None:
        return default
    return float(marker.args[0] if marker.args else marker.kwargs.get("timeout", default))


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: the budget goes to a test that runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("timeout"):  # pytest-timeout (the [test] extra) not installed
        return
    default = float(config.getoption("timeout", None) or config.getini("timeout") or 0)
    if default <= 0:  # timeouts off (--timeout 0)
        return
    charged: set[object] = set()
    for item in items:
        extra = 0
        definitions = getattr(item, "_fixtureinfo", None)
        for name in getattr(item, "fixturenames", ()):
            budget = SETUP_BUDGET_S.get(name)
            if budget is None:
                continue
            found = definitions.name2fixturedefs.get(name) if definitions is not None else None
            scope = found[-1].scope if found else "session"
            key: object = name if scope == "session" else (name, item.nodeid.split("::", 1)[0])
            if key not in charged:
                charged.add(key)
                extra += budget
        if extra:
            item.add_marker(pytest.mark.timeout(_limit(item, default) + extra), append=False)
