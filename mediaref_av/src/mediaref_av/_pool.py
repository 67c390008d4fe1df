"""Open containers kept across calls: bounded, thread-safe (check-out/check-in), fork-safe.

A checked-out handle belongs to one thread until it is checked in. A forked child
(PyTorch DataLoader workers) never touches its parent's containers: they share file
offsets with the parent, and freeing a codec whose worker threads did not survive the
fork can hang, so the child keeps them unreferenced-but-alive and opens its own.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from concurrent.futures import Future
from typing import IO, TYPE_CHECKING, Any

from mediaref import ByteSource, UndecodableMediaError

from . import _counters

if TYPE_CHECKING:
    import av.container
    import av.video.stream

    from ._convert import Converter

__all__ = [
    "Handle",
    "checkin",
    "checkout",
    "close_all",
    "discard",
    "max_open",
    "open_handle",
    "orphan",
]

max_open = int(os.environ.get("MEDIAREF_AV_MAX_OPEN", "16"))
"""Most idle containers kept open per process."""


class Handle:
    """An open container, its video stream and the decoding state that survives calls."""

    def __init__(
        self,
        key: Hashable,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        fileobj: IO[bytes] | None,
    ) -> None:
        self.key = key
        self.container = container
        self.stream = stream
        self.fileobj = fileobj
        self.pid = os.getpid()
        _alive.add(self)
        self.converter: Converter | None = None
        self.demux: Any = None
        """Packets from where the demuxer stands (`next_dpos`), if that is known."""
        self.next_dpos: int | None = None
        """Decode position of the next packet `demux` returns."""
        self.live = False
        """The decoder was not flushed after its last packet: it holds the pictures decoded
        from `base` on, and may still output some of them."""
        self.base: int | None = None
        """Where the decoding that ended at `next_dpos` started (a keyframe)."""
        self.shown_pts = 0
        """The pts of the last picture the decoder output."""
        self.delivered_pts = 0
        """The latest pts the last run delivered."""
        self.ready: dict[int, Any] = {}
        """Frames (VideoFrames by decode position) the decoder output while stepping
        forward that are shown after those delivered: for the next steps."""
        self.ahead: Future[None] | None = None
        """Decoding ahead for the next step forward, in a worker thread (see `settle`)."""
        self.ahead_late = 0
        """Decoding-ahead jobs the next call waited for (longer than half their CPU time)
        or cancelled, net of those that were in time."""
        self.ahead_cost = 0.0
        """CPU seconds the last decoding-ahead job took (its worker thread's time)."""
        self.ahead_held_back = 0
        """Steps forward without decoding ahead since it was held back (or last tried)."""
        self.returned_at = 0.0
        """`time.perf_counter()` when the last call on this handle returned."""
        self.steps = 0
        """How many calls in a row stepped forward from where the one before stopped."""
        self.skipped_pts = 0
        """The latest pts of a picture the decoder may have skipped (``skip_frame``)."""
        self.reader: Any = None
        """PyAV's demux generator, kept across seeks: each one dropped before its end
        leaked native memory (~0.2-2 KB; PyAV 18.1)."""

    def settle(self) -> None:
        """Wait for the decoding ahead, or cancel it if it has not started; score it.

        A job is late when it had not started, or when waiting for it took more than half
        of what it cost: then decoding inline would have been about as fast.
        """
        job, self.ahead = self.ahead, None
        if job is None:
            return
        late = False
        if not job.done():
            t0 = time.perf_counter()
            late = job.cancel()
            if not late:
                job.result()  # it catches its own errors
                late = time.perf_counter() - t0 > self.ahead_cost / 2
        self.ahead_late = self.ahead_late + 1 if late else max(self.ahead_late - 1, 0)

    def close(self) -> None:
        """Close the container and the file object; safe to call twice."""
        if self.pid != os.getpid():
            _orphans.append(self)
            return
        self.settle()
        self.demux = self.reader = self.converter = None  # generators refer back to us
        self.ready = {}
        # Closing must not mask the error that led here.
        with contextlib.suppress(Exception):
            self.container.close()
        if self.fileobj is not None:
            with contextlib.suppress(Exception):
                self.fileobj.close()


def open_handle(key: Hashable, source: ByteSource, stream_index: int | None) -> Handle:
    """Open `source` with PyAV and pick its video stream.

    Raises:
        UndecodableMediaError: Not a media file, or no video stream.
    """
    import av

    path = source.local_path
    fileobj = None if path is not None else source.open()
    try:
        container = av.open(path if path is not None else fileobj, "r", metadata_errors="ignore")
    except av.FFmpegError as e:
        if fileobj is not None:
            fileobj.close()
        raise UndecodableMediaError(f"cannot open as a video: {e}", uri=source.uri) from None
    except BaseException:
        if fileobj is not None:
            fileobj.close()
        raise
    _counters.add(containers_opened=1)
    try:
        videos = container.streams.video
        if stream_index is None:
            if not videos:
                kinds = ", ".join(sorted({str(s.type) for s in container.streams})) or "none"
                raise UndecodableMediaError(
                    f"no video stream in this file (streams: {kinds})", uri=source.uri
                )
            best = container.streams.best("video")
            stream = best if isinstance(best, av.video.stream.VideoStream) else videos[0]
        else:
            match = [s for s in videos if s.index == stream_index]
            if not match:
                raise UndecodableMediaError(
                    f"stream {stream_index} is not a video stream "
                    f"(video streams: {[s.index for s in videos]})",
                    uri=source.uri,
                )
            stream = match[0]
    except BaseException:
        container.close()
        if fileobj is not None:
            fileobj.close()
        raise
    return Handle(key, container, stream, fileobj)


_lock = threading.Lock()
_idle: OrderedDict[int, Handle] = OrderedDict()
"""Idle handles by ``id(handle)``, least recently used first; several may share a key."""
_pid = os.getpid()
_orphans: list[Handle] = []
_alive: weakref.WeakSet[Handle] = weakref.WeakSet()
"""Every open handle of this process, so that a forked child can keep them all alive."""


def _check_pid() -> None:
    global _pid, _idle
    if _pid != os.getpid():
        _orphans.extend(_idle.values())
        _idle = OrderedDict()
        _pid = os.getpid()


def checkout(key: Hashable) -> Handle | None:
    """Take the idle handle for `key`, if any; the caller owns it until `checkin`."""
    handle = None
    with _lock:
        _check_pid()
        for hid in reversed(_idle):  # the most recently used first: its pages are warm
            if _idle[hid].key == key:
                handle = _idle.pop(hid)
                break
    if handle is not None:
        _counters.add(container_hits=1)
    return handle


def checkin(handle: Handle) -> None:
    """Return a handle to the idle cache (closing the least recently used beyond the bound)."""
    if handle.pid != os.getpid():
        _orphans.append(handle)
        return
    evicted: list[Handle] = []
    with _lock:
        _check_pid()
        _idle[id(handle)] = handle
        while len(_idle) > max(max_open, 0):
            evicted.append(_idle.popitem(last=False)[1])
    for h in evicted:
        h.close()


def orphan(handle: Handle) -> None:
    """Keep a handle inherited through fork alive, untouched, for the process's lifetime."""
    _orphans.append(handle)


def discard(handle: Handle) -> None:
    """Close a handle whose state is unknown (after an error)."""
    handle.close()


def close_all() -> None:
    """Close every idle container of this process."""
    with _lock:
        _check_pid()
        handles = list(_idle.values())
        _idle.clear()
    for h in handles:
        h.close()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    _check_pid()
    # Handles held by decoder objects the child inherited must not be freed when the
    # child drops those objects either.
    _orphans.extend(_alive)


os.register_at_fork(after_in_child=_after_fork_in_child)
