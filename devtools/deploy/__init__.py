"""Production: the prod Compose file as deployment documents for a target, applied, and run locally.

Target-neutral (what every target reads):

    workload.py    a Compose service as a workload: its `x-deploy` keys over Compose's over defaults
    defaults.py    this stack's sizes, replicas and autoscaling where a service says nothing
    units.py       Compose's durations and sizes in seconds, CPU units and MiB
    secrets.py     what counts as a secret (it must be a reference, never an environment value)
    envfile.py     --env-file, read as Compose reads .env
    pinning.py     a release manifest -> every image by digest
    target.py      DeployTarget: what a target provides (render, apply, run-local commands)
    targets/       the targets, registered in one dict (targets/__init__.py); each owns its own
                   extension key, documents, validation, apply and local run
"""
