"""`VideoBatchSampler`: batches that keep each DataLoader worker on the same videos.

Standard library only: the sampler yields lists of sample indices, which is all a
``torch.utils.data.DataLoader`` asks of a ``batch_sampler``.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from ._ref import MediaRef

__all__ = ["VideoBatchSampler", "sample_key", "sample_refs"]


class _Cell(Protocol):
    """One mutable slot: a list, or a one-element tensor in shared memory."""

    def __getitem__(self, index: int, /) -> Any: ...
    def __setitem__(self, index: int, value: int, /) -> None: ...


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
    """Batches of sample indices grouped by video, split across DDP ranks and workers.

    Sample indices are grouped by `key` (default: the uri of the sample's first
    reference, so a multi-camera sample goes with its first camera's episode). Each
    epoch, the order of the groups is shuffled (seeded by ``seed + epoch``), and so is
    the order of samples inside each group when `shuffle_within` is true. That order,
    the same on every rank, is cut into `num_replicas` contiguous shares, one per rank
    (distributed training: each sample on exactly one rank per epoch, and a rank's
    videos stay together except at the edges of its share), and each rank cuts its
    share into batches of at most `batch_size`. Every rank gets the same number of
    batches, as ``DistributedSampler`` + ``BatchSampler`` give: without `drop_last`,
    ``ceil(ceil(len / num_replicas) / batch_size)`` (a share one sample shorter ends
    with a shorter batch); with `drop_last`, the shares are ``len // num_replicas``
    samples (the last ``len % num_replicas`` of the epoch's order are left out) cut
    into full batches only.

    A rank's batches are split into `num_workers` contiguous runs of equal length (the
    first runs one batch longer when it does not divide), so each worker gets whole
    groups in a row and keeps its containers, indexes and live decoders warm. The runs
    are interleaved: batch ``k`` of the iteration belongs to worker ``k % num_workers``,
    which is the worker a ``DataLoader`` with the same `num_workers` hands it to (its
    dispatch is round robin, restarted every epoch). `FrameStream` does not depend on
    that dispatch: each worker takes its own run, `worker_batches`.

    Args:
        samples: The dataset's samples (each a `MediaRef` or a sequence of them), or
            any object with a ``samples`` attribute holding them (a `FrameDataset`).
        batch_size: Samples per batch.
        num_workers: The ``DataLoader``'s ``num_workers`` (``0`` = the main process).
        shuffle: Shuffle the groups (and, with `shuffle_within`, inside them) per epoch;
            ``False`` keeps the groups in first-appearance order and the indices in order.
        shuffle_within: Shuffle the samples inside each group too.
        seed: Seed of the shuffles; ``seed + epoch`` is used (see `set_epoch`). Give
            every rank the same seed.
        drop_last: Give every rank ``len // num_replicas`` samples in full batches only.
        key: The group of a sample, instead of its first reference's uri.
        rank: This process's rank; default: ``torch.distributed.get_rank()`` when a
            process group is initialised, else ``0``.
        num_replicas: The number of ranks; default:
            ``torch.distributed.get_world_size()`` when a process group is initialised,
            else ``1``.

    Raises:
        ValueError: A bad argument, or (without `drop_last`) fewer samples than it takes
            to give every rank the same number of batches without repeating a sample
            (only possible with ``batch_size=1`` or fewer samples than ranks).
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
        rank: int | None = None,
        num_replicas: int | None = None,
    ) -> None:
        if type(batch_size) is not int or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if type(num_workers) is not int or num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
        self.rank, self.num_replicas = _replica(rank, num_replicas)
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
        self._epoch: _Cell = [0]
        shortest = self._size // self.num_replicas
        if not drop_last and shortest < len(self):
            raise ValueError(
                f"{self._size} samples cannot give each of {self.num_replicas} ranks "
                f"{len(self)} batches without repeating a sample; pass drop_last=True"
            )

    @property
    def epoch(self) -> int:
        """The epoch whose order `batches` gives (see `set_epoch`)."""
        return int(self._epoch[0])

    def set_epoch(self, epoch: int) -> None:
        """Use ``seed + epoch`` for the next iteration's shuffles (call it on every rank)."""
        self._epoch[0] = epoch

    def share_epoch(self, cell: _Cell) -> None:
        """Keep the epoch in `cell` (one element) from now on.

        E.g. a tensor in shared memory, which persistent DataLoader workers see
        (`FrameStream` does this).
        """
        cell[0] = self.epoch
        self._epoch = cell

    def batches(self) -> list[list[int]]:
        """Return this epoch's batches of this rank, group after group, before sharding."""
        groups = [list(g) for g in self._groups]
        if self.shuffle:
            rng = random.Random(self.seed + self.epoch)
            rng.shuffle(groups)
            if self.shuffle_within:
                for g in groups:
                    rng.shuffle(g)
        order = [i for g in groups for i in g]
        parts = self.num_replicas
        if self.drop_last:
            share = len(order) // parts
            return _cut(
                order[self.rank * share : (self.rank + 1) * share], len(self), self.batch_size
            )
        base, extra = divmod(len(order), parts)
        start = self.rank * base + min(self.rank, extra)
        mine = order[start : start + base + (1 if self.rank < extra else 0)]
        return _cut(mine, len(self), self.batch_size)

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
        """Batches per epoch on this rank (the same on every rank)."""
        if self.drop_last:
            return self._size // self.num_replicas // self.batch_size
        longest = (self._size + self.num_replicas - 1) // self.num_replicas
        return (longest + self.batch_size - 1) // self.batch_size


def _replica(rank: int | None, num_replicas: int | None) -> tuple[int, int]:
    """The rank and world size given, else torch.distributed's when it is initialised."""
    dist = sys.modules.get("torch.distributed")  # never imported here: only if in use
    unset = rank is None or num_replicas is None
    if unset and dist is not None and dist.is_available() and dist.is_initialized():
        rank = dist.get_rank() if rank is None else rank
        num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
    rank = 0 if rank is None else rank
    num_replicas = 1 if num_replicas is None else num_replicas
    if type(num_replicas) is not int or num_replicas < 1:
        raise ValueError(f"num_replicas must be an int >= 1, got {num_replicas!r}")
    if type(rank) is not int or not 0 <= rank < num_replicas:
        raise ValueError(f"rank must be an int in [0, {num_replicas}), got {rank!r}")
    return rank, num_replicas


def _cut(order: list[int], count: int, batch_size: int) -> list[list[int]]:
    """The first `count` batches of `order`, full ones first.

    Then shorter ones so that none is empty; what is beyond ``count * batch_size`` is left
    out (`drop_last`).
    """
    out: list[list[int]] = []
    pos = 0
    for k in range(count):
        size = min(batch_size, len(order) - pos - (count - 1 - k))
        out.append(order[pos : pos + size])
        pos += size
    return out


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
