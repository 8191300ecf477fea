"""The model lifecycle as devtools sees it: the stack's MLflow and what serving serves.

mlflow_api.py   the one MLflow client (its REST API, urllib; devtools never imports mlflow):
                registered-model aliases, runs a failed job left open
served.py       serving's /model and /comparison, asked where this machine reaches it
judging.py      the champion/challenger comparison judged against the promote thresholds (pure)
promotion.py    the aliases checked and moved, then serving awaited until it answers with the
                new champion
provenance.py   what a job that records a run is told of where it comes from: the image (id and
                registry digest), the git commit, dirty flag and diff (contract.provenance)
store.py        `backup` / `restore`: the dev stack's MLflow state as one archive, through the mlflow
                image's own mlflow-store
"""
