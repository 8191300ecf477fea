"""The team registry: where it is, the one way images reach it, and the dev images `up` pulls from it.

endpoint.py    which registry (--registry, DEVTOOLS_REGISTRY), and what its refusals mean
push.py        Pusher: tag, push, read the digest back from the registry (releases and dev images)
prebuilt.py    dev images by the fingerprint of their build inputs: pulled by `up` (an ImageSource
               of devtools.stack.start), published by `release --dev`
"""
