"""Training and data jobs in the stack's containers.

run.py      a command inside a service: exec into it when it runs, a one-off container when not;
            the terminal and the exit code are handed to docker compose
nodes.py    `train --nodes M`: one job over M training containers (c10d rendezvous on node 0),
            the first failed node named with its ranks, the others stopped, the run ended FAILED
repro.py    `repro RUN_ID`: the run's image, a worktree at its commit with its diff, its data digest
            and its command, rebuilt as a new run; --check compares the metrics
"""
