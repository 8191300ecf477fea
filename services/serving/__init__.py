"""The serving service: a FastAPI app in front of the registered model.

- `app`: the app, assembled (uvicorn serves `serving.app:app`); `__main__`: `python -m serving`;
  `reloader`: the dev fork-server reloader; `settings`: the environment; `metrics`: Prometheus;
  `periodic`: the background loops' thread.
- `http/`: the routes and the one serve path of /predict and /invocations.
- `model/`: the served model's versions: store (the registry), slot, watcher, smoke test, micro-batcher
  (singular: a folder named `models` is ignored by git and by devtools' watcher and remote sync).
- `traffic/`: the challenger on live traffic: canary router, shadow scorer, comparison, its MLflow log.

The agreements with training and devtools (alias names, the signature rule, the /model and
/comparison shapes) come from the `contract` package beside this one.
"""
