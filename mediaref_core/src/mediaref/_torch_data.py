"""`FrameDataset` and `FrameStream`: PyTorch datasets of decoded frames with their times.

Imports torch at the top: `mediaref.torch` loads this module on first use of these names.
"""

from __future__ import annotations

import ctypes
import functools
import math
import mmap
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info
from torch.utils.data.dataloader import default_collate

from ._batch import batch_decode
from ._cpu_budget import threads_per_worker
from ._errors import InvalidOutputError, MediaRefError
from ._iter import iter_decode
from ._protocols import DecodedFrame, ImageFormat, check_image_format
from ._ref import MediaRef
from ._sampler import VideoBatchSampler, sample_refs
from ._torch_shm import batch_tensor

__all__ = ["NO_PTS", "FrameDataset", "FrameStream", "collate"]

NO_PTS = -(2**63)
"""The ``pts_ns`` given for a still image (which has none); its ``frame_index`` is ``-1``."""

Sample = MediaRef | Sequence[MediaRef]
_SHAPES_KEPT = 4096
"""URIs whose frame shape a dataset remembers (`FrameDataset.batch_tensor`)."""


class FrameDataset(Dataset):  # type: ignore[misc]
    """A map-style dataset of samples, each one reference or a group of them, as tensors.

    ``dataset[i]`` decodes sample ``i`` and returns a dict:

    - ``"frames"``: uint8 tensor ``(H, W, C)`` for a single `MediaRef` (``(H, W)`` for
      ``format="gray"``), for a group of N references ``(N, H, W, C)``, or with
      ``stack=False`` a list of N tensors (frames of different sizes). In a batch whose
      frame shapes this process has seen (`batch_tensor`), the decoder writes the frames
      straight into the batch's tensor and these are views of it; otherwise a single
      frame is shared with its decoded array (``torch.from_numpy``) and a group's frames
      are copied once, into the stacked tensor;
    - ``"pts_ns"``: int64 tensor, ``()`` or ``(N,)``: the first ns each returned frame is
      on screen, from the same index as the pixels (at or before the time asked for);
      `NO_PTS` for a still image;
    - ``"frame_index"``: int64 tensor, ``()`` or ``(N,)``: the frame's index in
      presentation order; ``-1`` for a still image.

    A ``DataLoader`` with a ``batch_size`` or a ``batch_sampler`` (`VideoBatchSampler`)
    calls ``__getitems__`` with a whole batch of indices: all its references go to one
    `mediaref.batch_decode` call, so samples of one video share one decoding plan.

    In a DataLoader worker, codec threads follow `threads_per_worker` (see
    `decode_options`), and so does the number of files of a batch decoded in parallel
    threads; ``threads=``/``workers=`` given here win.

    Args:
        samples: A sequence of samples; each a `MediaRef` or a non-empty sequence of them.
        transform: Called on each sample's dict; its result is what the dataset returns.
        format: Channel order, as for `mediaref.batch_decode`.
        decoder: Backend name, as for `mediaref.batch_decode`.
        stack: Stack a group's frames into one tensor (they must share a shape).
        **options: Backend options (``threads``, ``workers``, ``index_cache``...).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        transform: Callable[[dict[str, Any]], Any] | None = None,
        format: ImageFormat = "rgb",
        decoder: str | None = None,
        stack: bool = True,
        **options: Any,
    ) -> None:
        check_image_format(format)
        self.samples = samples
        self.transform = transform
        self.format: ImageFormat = format
        self.decoder = decoder
        self.stack = stack
        self.options = options
        self._shapes: dict[str, tuple[int, ...]] = {}
        """The frame shape each URI decoded to: a batch of known shapes decodes in place."""

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Any:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """Decode the samples at `indices` in one `mediaref.batch_decode` call."""
        groups = [sample_refs(self.samples[i]) for i in indices]
        refs = [r for g in groups for r in g]
        options = self.decode_options()
        # Files of one batch decode in parallel threads: in a worker, within its CPU share.
        parallel = options.get("workers") if get_worker_info() is not None else None
        target = self.batch_tensor(indices)
        out = None if target is None else self.numpy_slots(target, indices)
        decode = partial(
            batch_decode,
            refs,
            decoder=self.decoder,
            format=self.format,
            with_pts=True,
            max_workers=parallel,
            **options,
        )
        try:
            decoded = decode(out=out)
        except InvalidOutputError:
            if target is None:
                raise
            # A video whose frames changed size since it was seen: learn them again.
            self._shapes.clear()
            target = None
            decoded = decode()
        return self.to_items(indices, decoded, frames_tensor=target)

    def numpy_slots(self, target: Any, indices: Sequence[int]) -> Any:
        """`target` (a `batch_tensor`) as a NumPy view ``(frames, *frame_shape)``."""
        frame = self._shapes[sample_refs(self.samples[indices[0]])[0].uri]
        array = target.numpy()
        return array.reshape(array.size // math.prod(frame), *frame)

    def batch_tensor(self, indices: Sequence[int]) -> Any:
        """Return the tensor the samples at `indices` decode into, or `None`.

        When every sample is a single reference, or every one a group of the same length,
        and every reference's video (or image) decoded to one frame shape before in this
        process: a new uninitialised uint8 tensor ``(B, *frame)`` or ``(B, N, *frame)``, in
        a DataLoader worker in memory the main process maps (`_empty_uint8`). The
        frames are then written into it by the decoder (``batch_decode(out=...)``), and
        each item's ``"frames"`` is a view of it, which `collate` hands on as the batch.
        """
        if not self.stack or not indices:
            return None
        samples = [self.samples[i] for i in indices]
        single = isinstance(samples[0], MediaRef)
        if any(isinstance(s, MediaRef) != single for s in samples):
            return None
        lengths = {len(sample_refs(s)) for s in samples}
        shapes = {self._shapes.get(r.uri) for s in samples for r in sample_refs(s)}
        if len(lengths) != 1 or len(shapes) != 1:
            return None
        shape = shapes.pop()
        if shape is None:
            return None
        lead = (len(samples),) if single else (len(samples), lengths.pop())
        return _empty_uint8((*lead, *shape))

    def decode_options(self, *, concurrent: int = 1) -> dict[str, Any]:
        """Return the backend options this process passes to the decoder.

        In a DataLoader worker (``torch.utils.data.get_worker_info()`` is set), or when
        `concurrent` decodes run at once, ``threads`` and ``workers`` are set to
        ``threads_per_worker(num_workers, usable CPUs, concurrent=concurrent)`` unless
        given to the dataset; in the main process with one decode at a time, the
        backend's default (all usable CPUs) is kept. Only set when an installed backend
        declares the option (``mediaref-av`` does).
        """
        options = dict(self.options)
        info = get_worker_info()
        if info is None and concurrent <= 1:
            return options
        if _declared("threads"):
            n = threads_per_worker(info.num_workers if info else 0, concurrent=concurrent)
            options.setdefault("threads", n)
            options.setdefault("workers", n)
        return options

    def to_items(
        self,
        indices: Sequence[int],
        decoded: Sequence[DecodedFrame],
        *,
        frames_tensor: Any = None,
    ) -> list[Any]:
        """Turn the decoded frames of the samples at `indices` (flattened) into items.

        `frames_tensor` is the `batch_tensor` the frames were decoded into, if any. Else,
        when every sample is a group of the same length and frame shape, their stacked
        ``"frames"`` are views of one ``(B, N, H, W, C)`` tensor (in a DataLoader worker,
        in memory the main process maps: `_empty_uint8`) that the frames are copied into.
        `collate` then returns that tensor without copying.
        """
        groups: list[Sequence[DecodedFrame]] = []
        singles: list[bool] = []
        pos = 0
        for i in indices:
            sample = self.samples[i]
            n = 1 if isinstance(sample, MediaRef) else len(sample)
            groups.append(decoded[pos : pos + n])
            singles.append(isinstance(sample, MediaRef))
            pos += n
        refs = (r for i in indices for r in sample_refs(self.samples[i]))
        shapes = self._shapes
        for ref, f in zip(refs, decoded, strict=True):
            if ref.uri not in shapes and len(shapes) >= _SHAPES_KEPT:
                del shapes[next(iter(shapes))]  # bounded over millions of videos: oldest out
            shapes[ref.uri] = tuple(f.data.shape)
        batch = frames_tensor
        if batch is None and self.stack and singles and not any(singles):
            batch = _batch_frames(groups)
        items: list[Any] = []
        for k, (group, single) in enumerate(zip(groups, singles, strict=True)):
            stacked = None if batch is None else batch[k]
            item = _item(group, single=single, stack=self.stack, frames_tensor=stacked)
            items.append(self.transform(item) if self.transform is not None else item)
        return items


class FrameStream(IterableDataset):  # type: ignore[misc]
    """Batches of a `FrameDataset` in a sampler's order, decoded ahead on idle cores.

    Each DataLoader worker takes its own contiguous run of the sampler's batches
    (`VideoBatchSampler.worker_batches`), so it stays on the same videos, and decodes
    them through `mediaref.iter_decode`: while one batch is collated and handed over,
    the next `ahead` batches decode on other threads (look-ahead bounded to `ahead`
    batches). Codec threads follow `threads_per_worker` with ``concurrent = ahead + 1``.
    Use it with ``DataLoader(stream, batch_size=None, num_workers=...)``: it yields
    collated batches. Call ``stream.set_epoch(e)`` (or ``batch_sampler.set_epoch(e)``)
    before each epoch: the epoch is kept in shared memory, so workers see it with
    ``persistent_workers=True`` too. Under distributed training the sampler gives this
    rank's batches (see `VideoBatchSampler`'s ``rank``).

    Args:
        dataset: The samples and decode options.
        batch_sampler: The batches, grouped by video.
        ahead: Batches decoded ahead of the one yielded, per worker.
        collate_fn: Turns a batch's list of items into the yielded value; default:
            `collate`.
    """

    def __init__(
        self,
        dataset: FrameDataset,
        batch_sampler: VideoBatchSampler,
        *,
        ahead: int = 1,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        if type(ahead) is not int or ahead < 0:
            raise ValueError(f"ahead must be an int >= 0, got {ahead!r}")
        self.dataset = dataset
        self.batch_sampler = batch_sampler
        self.ahead = ahead
        self.collate_fn = collate_fn
        # Workers hold copies of the sampler; its epoch lives in memory they share.
        batch_sampler.share_epoch(torch.zeros(1, dtype=torch.int64).share_memory_())

    def set_epoch(self, epoch: int) -> None:
        """Use `epoch`'s order for the next iteration, in every worker (see the class)."""
        self.batch_sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        worker, num = (info.id, info.num_workers) if info is not None else (0, 1)
        batches = self.batch_sampler.worker_batches(worker, num)
        ds = self.dataset
        made: deque[_Request] = deque()  # the requests iter_decode took, in order

        def requests() -> Iterator[_Request]:
            for b in batches:
                made.append(_Request(ds, b))
                yield made[-1]

        results = iter_decode(
            requests(),
            ahead=self.ahead,
            decoder=ds.decoder,
            format=ds.format,
            on_error="return",
            with_pts=True,
            out=_Request.place,  # each batch decodes into its tensor, where its shapes are known
            **ds.decode_options(concurrent=self.ahead + 1),
        )
        collate_items = self.collate_fn or collate
        for decoded in results:
            request = made.popleft()
            errors = [d for d in decoded if isinstance(d, MediaRefError)]
            if any(isinstance(e, InvalidOutputError) for e in errors):
                ds._shapes.clear()  # a video whose frames changed size: decode it again
                yield collate_items(ds.__getitems__(request.indices))
                continue
            if errors:
                raise errors[0]
            yield collate_items(ds.to_items(request.indices, decoded, frames_tensor=request.target))


class _Request(list[MediaRef]):
    """The references of one batch of a `FrameStream`, and the tensor they decode into."""

    def __init__(self, dataset: FrameDataset, indices: Sequence[int]) -> None:
        super().__init__(r for i in indices for r in sample_refs(dataset.samples[i]))
        self.dataset, self.indices = dataset, indices
        self.target: Any = None

    def place(self) -> Any:
        """Make the batch's tensor (`FrameDataset.batch_tensor`); return its NumPy slots."""
        self.target = self.dataset.batch_tensor(self.indices)
        if self.target is None:
            return None
        return self.dataset.numpy_slots(self.target, self.indices)


def collate(items: list[Any]) -> Any:
    """Collate items as ``torch.utils.data.default_collate`` does, with one copy less.

    When the items' ``"frames"`` are, in order, the views of one batch tensor that
    `FrameDataset` made (and usually decoded into: `FrameDataset.batch_tensor`), the
    batch's ``"frames"`` is that tensor itself instead of a stacked copy; everything else
    goes through ``default_collate``. Pass it as ``DataLoader(..., collate_fn=collate)``;
    `FrameStream` uses it by default.
    """
    if items and all(isinstance(item, dict) and "frames" in item for item in items):
        base = _common_base([item["frames"] for item in items])
        if base is not None:
            rest = default_collate([{k: v for k, v in i.items() if k != "frames"} for i in items])
            return {"frames": base, **rest}
    return default_collate(items)


def _common_base(frames: list[Any]) -> Any:
    """The tensor whose consecutive ``[k]`` views `frames` are, if they are exactly that."""
    first = frames[0]
    base = getattr(first, "_base", None)
    if base is None or base.dim() < 1 or base.shape[0] != len(frames):
        return None
    step = first.numel()
    for k, f in enumerate(frames):
        if not isinstance(f, torch.Tensor) or f._base is not base:
            return None
        if f.shape != base.shape[1:] or f.storage_offset() != base.storage_offset() + k * step:
            return None
    return base if base.is_contiguous() else None


def _batch_frames(groups: list[Sequence[DecodedFrame]]) -> Any:
    """One ``(B, N, H, W, C)`` uint8 tensor holding every group's frames, or `None`."""
    shapes = {f.data.shape for g in groups for f in g}
    if not groups or len(shapes) != 1 or len({len(g) for g in groups}) != 1:
        return None
    if any(f.data.dtype.kind != "u" or f.data.itemsize != 1 for g in groups for f in g):
        return None
    shape = (len(groups), len(groups[0]), *shapes.pop())
    out = _empty_uint8(shape)
    view = out.numpy()
    for k, g in enumerate(groups):
        for j, f in enumerate(g):
            view[k, j] = f.data
    return out


def _empty_uint8(shape: tuple[int, ...]) -> Any:
    """An uninitialised uint8 tensor; in a DataLoader worker, in shared memory.

    On Linux, memory the worker reuses once the main process has dropped the batch
    (`mediaref._torch_shm`); elsewhere, fresh shared memory from torch, as
    ``default_collate`` makes it.
    """
    if get_worker_info() is None:
        return torch.empty(shape, dtype=torch.uint8)
    reused = batch_tensor(shape)
    if reused is not None:
        return reused
    proto = torch.empty(0, dtype=torch.uint8)
    numel = 1
    for n in shape:
        numel *= n
    storage = proto._typed_storage()._new_shared(numel, device=proto.device)
    out = proto.new(storage).resize_(*shape)
    _populate(out.data_ptr(), numel)
    return out


_MADV_POPULATE_WRITE = 23  # Linux 5.14+


def _populate(address: int, length: int) -> None:
    """Fault in the pages of fresh shared memory in one call, not one fault per page.

    The decoder writes every byte of a batch tensor anyway; faulting its pages in up front
    (``madvise(MADV_POPULATE_WRITE)``) measured 0.29 instead of 0.40 ms of CPU per
    640x360 RGB frame converted into fresh shared memory (0.10 into reused memory). A
    kernel without it (EINVAL) or another OS just leaves the pages to fault on first touch.
    """
    if not sys.platform.startswith("linux") or length <= 0:
        return
    page = mmap.PAGESIZE
    start = address - address % page
    libc = _libc()
    if libc is not None:
        libc.madvise(start, length + address - start, _MADV_POPULATE_WRITE)


@functools.cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        libc.madvise.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def _item(
    frames: Sequence[DecodedFrame], *, single: bool, stack: bool, frames_tensor: Any = None
) -> dict[str, Any]:
    tensors = [torch.from_numpy(f.data) for f in frames] if frames_tensor is None else []
    pts = [NO_PTS if f.pts_ns is None else f.pts_ns for f in frames]
    index = [-1 if f.frame_index is None else f.frame_index for f in frames]
    if single:
        return {
            "frames": tensors[0] if frames_tensor is None else frames_tensor,
            "pts_ns": torch.tensor(pts[0], dtype=torch.int64),
            "frame_index": torch.tensor(index[0], dtype=torch.int64),
        }
    data: Any = tensors
    if frames_tensor is not None:
        data = frames_tensor
    elif stack:
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) > 1:
            raise ValueError(
                f"the frames of a sample have different shapes {sorted(shapes)}; "
                "pass stack=False to get them as a list"
            )
        data = torch.stack(tensors)
    return {
        "frames": data,
        "pts_ns": torch.tensor(pts, dtype=torch.int64),
        "frame_index": torch.tensor(index, dtype=torch.int64),
    }


def _declared(option: str) -> bool:
    from ._plugins import registry

    return option in registry().option_names
