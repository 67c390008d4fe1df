"""`VideoBatchSampler`: batches that keep each DataLoader worker on the same videos.

Standard library only: the sampler yields lists of sample indices, which is all a
``torch.utils.data.DataLoader`` asks of a ``batch_sampler``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ._ref import MediaRef

__all__ = ["VideoBatchSampler", "sample_key", "sample_refs"]


def sample_refs(sample: MediaRef | Sequence[MediaRef]) -> list[MediaRef]:
    """Return the references of a sample: one `MediaRef`, or a group of them."""
    if isinstance(sample, MediaRef):
        return [sample]
    refs = list(sample)
    if not refs or not all(isinstance(r, MediaRef) for r in refs):
        raise TypeError(
            "a sample is a MediaRef or a non-empty sequence of MediaRef, "
            f"got {type(sample).__name__}"
        )
    return refs


def sample_key(sample: MediaRef | Sequence[MediaRef]) -> str:
    """Return the video a sample belongs to: the uri of its (first) reference."""
    return sample_refs(sample)[0].uri


class VideoBatchSampler:
    """Batches of sample indices grouped by video, sharded so that a worker keeps its videos.

    Sample indices are grouped by `key` (default: the uri of the sample's first
    reference, so a multi-camera sample goes with its first camera's episode). Each
    epoch, the order of the groups is shuffled (seeded by ``seed + epoch``), and so is
    the order of samples inside each group when `shuffle_within` is true; then the
    indices, group after group, are cut into batches of `batch_size`. The batches are
    split into `num_workers` contiguous runs of equal length (the first runs one batch
    longer when it does not divide), so each worker gets whole groups in a row (at most
    the groups at the edges of its run are shared with a neighbour) and keeps its
    containers, indexes and live decoders warm.

    The runs are interleaved: batch ``k`` of the iteration belongs to worker
    ``k % num_workers``, which is the worker a ``DataLoader`` with the same `num_workers`
    hands it to (its dispatch is round robin, restarted every epoch). `FrameStream`
    does not depend on that dispatch: each worker takes its own run, `worker_batches`.

    Args:
        samples: The dataset's samples (each a `MediaRef` or a sequence of them), or
            any object with a ``samples`` attribute holding them (a `FrameDataset`).
        batch_size: Samples per batch.
        num_workers: The ``DataLoader``'s ``num_workers`` (``0`` = the main process).
        shuffle: Shuffle the groups (and, with `shuffle_within`, inside them) per epoch;
            ``False`` keeps the groups in first-appearance order and the indices in order.
        shuffle_within: Shuffle the samples inside each group too.
        seed: Seed of the shuffles; ``seed + epoch`` is used (see `set_epoch`).
        drop_last: Drop the last batch when it has fewer than `batch_size` samples.
        key: The group of a sample, instead of its first reference's uri.
    """

    def __init__(
        self,
        samples: Any,
        batch_size: int,
        *,
        num_workers: int = 0,
        shuffle: bool = True,
        shuffle_within: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        key: Callable[[Any], str] | None = None,
    ) -> None:
        if type(batch_size) is not int or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if type(num_workers) is not int or num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
        items: Sequence[Any] = getattr(samples, "samples", samples)
        get_key = key or sample_key
        groups: dict[str, list[int]] = {}
        for i, sample in enumerate(items):
            groups.setdefault(get_key(sample), []).append(i)
        self._groups = list(groups.values())
        self._size = len(items)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.shuffle, self.shuffle_within = shuffle, shuffle_within
        self.seed, self.drop_last = seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``seed + epoch`` for the next iteration's shuffles."""
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """Return this epoch's batches, group after group, before sharding."""
        groups = [list(g) for g in self._groups]
        if self.shuffle:
            rng = random.Random(self.seed + self.epoch)
            rng.shuffle(groups)
            if self.shuffle_within:
                for g in groups:
                    rng.shuffle(g)
        order = [i for g in groups for i in g]
        n = self.batch_size
        out = [order[k : k + n] for k in range(0, len(order), n)]
        if self.drop_last and out and len(out[-1]) < n:
            out.pop()
        return out

    def worker_batches(self, worker: int, num_workers: int) -> list[list[int]]:
        """Return the contiguous run of this epoch's batches that `worker` decodes."""
        if not 0 <= worker < max(num_workers, 1):
            raise ValueError(f"worker {worker} is not one of {num_workers} workers")
        return _runs(self.batches(), max(num_workers, 1))[worker]

    def __iter__(self) -> Iterator[list[int]]:
        runs = _runs(self.batches(), max(self.num_workers, 1))
        for k in range(len(runs[0]) if runs else 0):
            for run in runs:
                if k < len(run):
                    yield run[k]

    def __len__(self) -> int:
        full, rest = divmod(self._size, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)


def _runs(batches: list[list[int]], parts: int) -> list[list[list[int]]]:
    """Split `batches` into `parts` contiguous runs, the first ones one longer if needed."""
    base, extra = divmod(len(batches), parts)
    runs: list[list[list[int]]] = []
    start = 0
    for w in range(parts):
        stop = start + base + (1 if w < extra else 0)
        runs.append(batches[start:stop])
        start = stop
    return runs
