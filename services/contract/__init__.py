"""The agreements between devtools and the two images, written once (standard library only, Python >= 3.10).

Both images carry this package next to their own (/app/contract beside /app/serving and /app/training)
and devtools imports it, so a name, a rule or a shape that both sides must spell the same lives here:

- `aliases`: the registry alias names, champion and challenger.
- `signature`: the one rule for which MLflow input schemas serving's /predict can type (training
  refuses to register, and serving to swap in, a version that breaks it).
- `status`: the JSON shapes of serving's GET /model and GET /comparison, and the challenger modes.
- `thresholds`: what a challenger must show before `devtools promote` moves the champion's alias.
- `nodes`: the lines a multi-node training job prints for whoever runs it (which ranks a node runs,
  which MLflow run it records), formatted and parsed in one place; the nodes variable and the
  rendezvous port.
- `gpus`: the one spelling of "every GPU the container sees" passed to `python -m training train`.

Nothing here imports anything but the standard library, not even for type checking: devtools must stay
cheap to import, and the images must not depend on each other's packages.
"""
