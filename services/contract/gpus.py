"""How devtools and the training image say "every GPU the container sees" for `--nproc-per-node`."""

from __future__ import annotations

# The one spelling devtools passes: `python -m training train --nproc-per-node all`.
ALL_GPUS = "all"
# torchrun's word for the same thing; training accepts it too, so a torchrun habit (or an older
# devtools) keeps working.
TORCHRUN_ALL = "gpu"


def means_all_gpus(text: str) -> bool:
    """Whether a `--nproc-per-node` value asks for one process per visible GPU."""
    return text in (ALL_GPUS, TORCHRUN_ALL)
