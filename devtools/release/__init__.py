"""Releasing the prod images: the team registry (registry.py), pushing by revision and reading back the
digests (publish.py), and the release manifest that `deploy render TARGET --release` names images from
(manifest.py)."""
