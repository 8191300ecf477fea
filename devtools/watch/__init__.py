"""The host-side watcher: file changes -> restart / rebuild / exec / sync, per service, Tilt-style.

rules.py reads the rules from the merged Compose config (`develop.watch` + `x-devtools.watch`),
planner.py decides (pure: debounce, ignores, content hashes, coalescing), actions.py acts through
docker compose, loop.py wires watchdog to them, view.py shows the status.
"""
