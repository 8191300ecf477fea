"""Hash-locked environments: every image's requirements and the host's, resolved once by uv.

sets.py       what each lock is made of (inputs, platforms, torch build) and the joint resolution
resolve.py    resolving them into locks/ (`devtools lock`), and the offline check that a lock
              matches its inputs (`devtools lock --check`, CI)
"""
