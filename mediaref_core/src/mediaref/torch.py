"""PyTorch data loading: datasets of decoded frames with their times, and a video-aware sampler.

`FrameDataset` is a map-style dataset over samples (a `MediaRef`, or a group of them: the
cameras of one step, a short clip) returning uint8 tensors with their ``pts_ns`` and
``frame_index``; `VideoBatchSampler` groups sample indices by video and shards the groups
across DataLoader workers so each worker stays on its videos; `FrameStream` decodes a
worker's next batches ahead through `mediaref.iter_decode`; a batch is decoded straight
into its tensor once its frame shapes are known, and `collate` returns that tensor
without the copy ``default_collate`` makes. In a worker, codec threads
follow `threads_per_worker` so that N workers do not oversubscribe the cores.

torch is imported when `FrameDataset` or `FrameStream` is first used, never by
``import mediaref``; without it they raise `BackendNotInstalledError`. The sampler and the
thread rule need no torch. See docs/training.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._cpu_budget import threads_per_worker, usable_cpus
from ._errors import BackendNotInstalledError
from ._sampler import VideoBatchSampler, sample_key, sample_refs

if TYPE_CHECKING:
    from ._torch_data import NO_PTS, FrameDataset, FrameStream, collate

__all__ = [
    "NO_PTS",
    "FrameDataset",
    "FrameStream",
    "VideoBatchSampler",
    "collate",
    "sample_key",
    "sample_refs",
    "threads_per_worker",
    "usable_cpus",
]

_NEED_TORCH = {"NO_PTS", "FrameDataset", "FrameStream", "collate"}


def __getattr__(name: str) -> Any:
    if name not in _NEED_TORCH:
        raise AttributeError(f"module 'mediaref.torch' has no attribute {name!r}")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise BackendNotInstalledError(
            f"mediaref.torch.{name} needs PyTorch; install it with: pip install torch"
        ) from None
    from . import _torch_data

    value = getattr(_torch_data, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
