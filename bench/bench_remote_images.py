"""How the dev images get into an empty remote engine fastest (the Docker tier's test_remote starts one per
run): pulled from the team registry (scripts/provision's, 127.0.0.1:5001) as `devtools up` pulls them,
or `docker save | docker load` from this machine's engine. Each path on a new remote engine
(testing/remote_engine.py: a new, empty data-root), one run each, the pull first.

    .venv/bin/python bench/bench_remote_images.py

Needs the dev images published (`devtools release --dev --registry 127.0.0.1:5001`, which this runs
first: warm, it only checks) and root (the remote engine).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from testing import remote_engine  # noqa: E402  (after the path it lives on)

REGISTRY = "127.0.0.1:5001"
SERVICES = ["base", "mlflow", "serving", "training"]


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done  # type: ignore[no-any-return]


def main() -> int:
    run([sys.executable, "-m", "devtools", "release", "--dev", "--registry", REGISTRY], cwd=REPO, timeout=3600)
    images = [f"{REGISTRY}/mlstack/{service}:dev" for service in SERVICES]
    sizes = run(["docker", "image", "inspect", "--format", "{{.Size}}", *images]).stdout.split()
    summed = sum(int(size) for size in sizes) / 1e9
    print(f"images: {', '.join(images)} ({summed:.2f} GB summed, the shared base layers in each)")

    with remote_engine.running() as engine:
        started = time.monotonic()
        for image in images:  # one after the other, as a script would; devtools pulls up to 4 at once
            run(["docker", "-H", engine.socket, "pull", "-q", image], timeout=1800)
        pull_s = time.monotonic() - started
    print(f"registry pull into an empty engine: {pull_s:.1f} s")

    with remote_engine.running() as engine:
        started = time.monotonic()
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "-H", engine.socket, "load", "-q"], stdin=save.stdout, capture_output=True)
        assert save.stdout is not None
        save.stdout.close()
        if save.wait() != 0 or load.returncode != 0:
            sys.exit(f"docker save | docker load failed: {load.stderr.decode()[-2000:]}")
        load_s = time.monotonic() - started
        # Then what `devtools up` does with them: a pull of a tag whose image is there already.
        started = time.monotonic()
        for image in images:
            run(["docker", "-H", engine.socket, "pull", "-q", image], timeout=600)
        repull_s = time.monotonic() - started
    print(f"docker save | docker load into an empty engine: {load_s:.1f} s; a pull after it: {repull_s:.1f} s")
    print(f"ratio save|load / pull: {load_s / pull_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
