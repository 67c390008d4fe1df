"""Batch tensors that a DataLoader worker reuses across batches (Linux ``memfd``).

A batch tensor made in a worker goes to the main process in shared memory. Fresh shared
memory costs page faults and the kernel's zeroing of every page for every batch; memory
that a worker reuses costs neither. So a worker keeps a few *blocks*: anonymous files
(``os.memfd_create``) mapped once, each a header page then the pixels. A block's batch
tensor is a `BatchTensor`, which pickles as the file's descriptor (passed with
``multiprocessing.reduction.DupFd``, as torch's ``file_descriptor`` strategy does, under
fork, forkserver and spawn) and unpickles as a plain ``torch.Tensor`` over the main
process's own mapping of the file.

When to reuse: each use of a block has a generation number. In the main process, a
``weakref.finalize`` on the NumPy array that owns the mapping (``torch.from_numpy`` keeps
it alive; so does every view, storage and ``.numpy()`` of the tensor) writes that
generation into the block's header once the last of them is gone. The worker reuses a
block only when its header holds the generation it last sent, or when its own tensor
over the block died without being sent at all. Otherwise it maps a new block; it keeps
at most `KEPT` and forgets the oldest beyond that (the main process still maps it, and
the kernel frees it with the last mapping).
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
import threading
import weakref
from multiprocessing.reduction import DupFd
from typing import Any

import numpy as np
import torch

KEPT = 8
"""Blocks a worker keeps for reuse (in use by the main process or free)."""

_HEADER = mmap.PAGESIZE  # the generation the main process released, then pixels, page-aligned
_GEN = struct.Struct("<Q")


class BatchTensor(torch.Tensor):
    """A uint8 tensor over a worker's block; pickles as the block's file descriptor.

    Only the tensor `batch_tensor` returns is one: its views and results of operations
    are plain tensors (pickled by torch as usual).
    """

    __torch_function__ = torch._C._disabled_torch_function_impl
    _block: _Block
    _gen: int

    def __reduce_ex__(self, protocol: Any) -> Any:
        block = self._block
        block.sent = self._gen
        return _rebuild, (DupFd(block.fd), self._gen, tuple(self.shape))


class _Block:
    """One mapped ``memfd`` file: the header page, then `size` bytes of pixels."""

    def __init__(self, size: int) -> None:
        fd = os.memfd_create("mediaref-batch", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, _HEADER + size)
            flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
            self.mm = mmap.mmap(fd, _HEADER + size, flags=flags)
        except BaseException:
            os.close(fd)
            raise
        self.fd, self.size = fd, size
        self.gen = 0  # the current use; 0: never used (the header reads 0: free)
        self.sent = -1  # the last use pickled for another process
        self.dropped = -1  # the last use whose tensors all died here, unsent
        weakref.finalize(self, os.close, fd)  # after the last tensor that may send it

    def free(self) -> bool:
        gen = self.gen
        if gen in (0, self.dropped):
            return True
        return self.sent == gen and _GEN.unpack_from(self.mm, 0)[0] == gen

    def tensor(self, shape: tuple[int, ...]) -> BatchTensor:
        """Start the block's next use: a `BatchTensor` of `shape` over its pixels."""
        self.gen += 1
        array = np.frombuffer(self.mm, np.uint8, count=self.size, offset=_HEADER)
        weakref.finalize(array, self._dropped, self.gen)
        out: BatchTensor = torch.Tensor._make_subclass(
            BatchTensor, torch.from_numpy(array.reshape(shape))
        )
        out._block, out._gen = self, self.gen
        return out

    def _dropped(self, gen: int) -> None:
        if self.sent != gen:
            self.dropped = gen


class _Pool:
    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.lock = threading.Lock()
        self.made = 0  # blocks mapped by this process (a test hook)

    def tensor(self, shape: tuple[int, ...], size: int) -> BatchTensor:
        """A `BatchTensor` over a free block of `size` bytes, or over a new one."""
        with self.lock:
            block = next((b for b in self.blocks if b.size == size and b.free()), None)
            if block is None:
                block = _Block(size)
                self.made += 1
                self.blocks.append(block)
                if len(self.blocks) > KEPT:  # forget a free block first, else the oldest
                    old = next((b for b in self.blocks if b.free()), self.blocks[0])
                    self.blocks.remove(old)
            return block.tensor(shape)


_pools: dict[int, _Pool] = {}


def pool() -> _Pool | None:
    """This process's pool, or `None` where ``memfd_create`` is missing (not Linux)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "memfd_create"):
        return None
    pid = os.getpid()  # a forked child starts its own
    p = _pools.get(pid)
    if p is None:
        _pools.clear()
        p = _pools[pid] = _Pool()
    return p


def batch_tensor(shape: tuple[int, ...]) -> BatchTensor | None:
    """An uninitialised uint8 `BatchTensor` of `shape` over a reused block, or `None`."""
    p = pool()
    if p is None:
        return None
    size = 1
    for n in shape:
        size *= n
    try:
        return p.tensor(shape, size)
    except OSError:  # memfd refused (limits, seccomp): the caller uses torch's shared memory
        return None


def _rebuild(fd: Any, gen: int, shape: tuple[int, ...]) -> torch.Tensor:
    """In the receiving process: a plain tensor over its own mapping of the block."""
    fd = fd.detach()
    try:
        mm = mmap.mmap(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    size = 1
    for n in shape:
        size *= n
    array = np.frombuffer(mm, np.uint8, count=size, offset=_HEADER)
    release = weakref.finalize(array, _release, mm, gen, os.getpid())
    release.atexit = False
    return torch.from_numpy(array.reshape(shape))


def _release(mm: mmap.mmap, gen: int, pid: int) -> None:
    """Tell the worker that use `gen` of the block is over: its last array here is gone.

    Only in the process that received the batch: a child forked while it held the batch
    has the array too, and dropping that copy must not free the parent's.
    """
    if os.getpid() == pid:
        _GEN.pack_into(mm, 0, gen)
