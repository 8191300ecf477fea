"""The Docker engine as devtools sees it: one owner for its facts, its fixes and every call to it.

fixes.py: the fix strings and the Compose version rule (one table, used by errors, doctor and GPU
detection). stderr.py: docker/compose stderr -> one-line DevtoolsError. facts.py: what the engine is
(CLI, daemon, Compose, endpoint, local or remote), each fact asked once per run. api.py: the Docker
SDK for the watcher, reached as the CLI reaches the engine, its errors mapped like the CLI's.

Nothing is imported here, so `devtools.proc` can use stderr.py without pulling in facts.py.
"""
