"""Training and data jobs in the stack's containers.

run.py      a command inside a service: exec into it when it runs, a one-off container when not;
            the terminal and the exit code are handed to docker compose
nodes.py    `train --nodes M`: one job over M training containers (c10d rendezvous on node 0),
            the first failed node named with its ranks, the others stopped, the run ended FAILED
"""
