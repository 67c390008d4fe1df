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
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any

from mediaref import ByteSource, SourceUnreadableError, UndecodableMediaError

from . import _counters
from ._blockfile import BLOCK, BlockFile
from ._bounds import check_picture, ffmpeg_max_pixels
from ._stepping import Stepping

if TYPE_CHECKING:
    import av
    import av.container
    import av.video.stream

    _Packet = av.Packet[av.video.stream.VideoStream]
    _Opened = tuple[av.container.InputContainer, av.video.stream.VideoStream, BlockFile | None]

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

HEADER_READAHEAD = 64 * 1024
"""Bytes fetched at least per miss while FFmpeg reads a remote container's header."""

max_open = int(os.environ.get("MEDIAREF_AV_MAX_OPEN", "16"))
"""Most idle containers kept open per process."""
_IDLE_S = 10.0
"""Seconds after which an idle container is closed, at the next checkout or checkin: each
holds its codec's memory and FFmpeg threads (a soak over 1,000 files kept ~19 MB and 23
threads in 16 idle containers after the calls stopped). No timer thread does it."""
_clock = time.monotonic
"""Seconds; tests replace it."""


class Handle:
    """An open container and its video stream, owned by one thread while checked out.

    `stepping` is the decoding state that survives calls (the live decoder and what it
    holds); only `_stepping` changes it.
    """

    def __init__(
        self,
        key: Hashable,
        stream_index: int | None,
        opened: _Opened,
    ) -> None:
        self.key = key
        self.stream_index = stream_index
        """The ``stream`` option the container was opened with (`None`: the best one)."""
        self.container, self.stream, self.fileobj = opened
        self.pid = os.getpid()
        _alive.add(self)
        self.threading: tuple[str, int] | None = None
        """FFmpeg thread type and count set on the codec (see `configure`)."""
        self.reader: Any = None
        """PyAV's demux generator, kept across seeks: each one dropped before its end
        leaked native memory (~0.2-2 KB; PyAV 18.1)."""
        self.stepping = Stepping()
        self.idle_since = 0.0
        """`_clock()` when the handle was last checked in."""

    def configure(self, thread_type: str, count: int) -> None:
        """Set the codec's threading before it opens (``count == 1``: no codec threads)."""
        self.threading = (thread_type, count)
        cc = self.stream.codec_context
        # Pictures larger than the stream's parameters said are refused by the decoder.
        cc.options = {**cc.options, "max_pixels": ffmpeg_max_pixels()}
        if count == 1:
            cc.thread_count = 1
        else:
            cc.thread_type = thread_type
            cc.thread_count = count

    def packets(self) -> Iterator[_Packet]:
        """The demuxer's packets from where it stands (it reads on after a seek)."""
        if self.reader is None:
            self.reader = self.container.demux(self.stream)
        for pkt in self.reader:
            if not _is_flush(pkt):
                yield pkt
        self.reader = None  # ended (EOF): the next read needs a new one

    def reopen(self, source: ByteSource) -> None:
        """Replace the container by a fresh one (at the first packet), configured alike.

        `source` comes from the caller: a handle does not keep its own, or an idle
        container of a ``data:`` URI would keep the URI's bytes alive besides its file.

        Raises:
            UndecodableMediaError: The source no longer opens as a video.
        """
        self._drop_reader()
        self.container.close()
        if self.fileobj is not None:
            self.fileobj.close()
        self.container, self.stream, self.fileobj = _open(source, self.stream_index)
        if self.threading is not None:
            self.configure(*self.threading)

    def _drop_reader(self) -> None:
        """Close the demux generator while its container is open.

        Dropped, it is finalised whenever the last reference goes (a `packets` generator
        of a run may hold it), after the container closed: PyAV 18.1 then leaks its
        packet, ~0.3-1 KB per container (3,000 opens of a 64x48 clip: +2.3 MB held,
        +0.1 MB when closed first). A soak over 2,000 files held +22 MB after
        `cleanup_cache()` from this.
        """
        reader, self.reader = self.reader, None  # the generator refers back to us
        if reader is not None:
            with contextlib.suppress(Exception):
                reader.close()

    def close(self) -> None:
        """Close the container and the file object; safe to call twice."""
        if self.pid != os.getpid():
            _orphans.append(self)
            return
        self.stepping.close()
        self._drop_reader()
        # Closing must not mask the error that led here.
        with contextlib.suppress(Exception):
            self.container.close()
        if self.fileobj is not None:
            with contextlib.suppress(Exception):
                self.fileobj.close()


def _is_flush(pkt: _Packet) -> bool:
    return pkt.size == 0 and pkt.pts is None and pkt.dts is None


def open_handle(
    key: Hashable, source: ByteSource, stream_index: int | None, *, probe: bool = True
) -> Handle:
    """Open `source` with PyAV and pick its video stream.

    `probe=False` (a file whose index says `IndexData.declared_reorder`) lets FFmpeg's
    probe of a local file read packets without decoding any: for H.264 it decodes seven
    pictures to guess the output delay that such a file's SPS declares, 6.4 ms of an open's
    6.6 at 640x360 and 27 of 28 ms at 1280x720 (x264 defaults; 1.0 and 1.3 ms without).
    The stream's pixel format then stays unknown until the first frame, which ours never
    needs earlier. A remote source keeps the probe: without a decoded picture, FFmpeg reads
    on to its probe limits (up to 5 s of packets) for the pixel format.

    Raises:
        UndecodableMediaError: Not a media file, or no video stream.
    """
    return Handle(key, stream_index, _open(source, stream_index, probe=probe))


def _open(source: ByteSource, stream_index: int | None, *, probe: bool = True) -> _Opened:
    import av

    path = source.local_path
    fileobj = None if path is not None else _open_remote(source)
    try:
        # FFmpeg decodes a few pictures to probe the stream: bounded like ours (_bounds).
        options = {"max_pixels": ffmpeg_max_pixels(probe=True)}
        if fileobj is None:
            if not probe:
                options["skip_frame"] = "all"  # the probe's decoder only: ours is made after
            container = av.open(path, "r", metadata_errors="ignore", options=options)
        else:  # PyAV's buffer is what the demuxer reads past a run: keep it one block
            fileobj.readahead = HEADER_READAHEAD  # the header comes in a few reads, not 16 KiB ones
            container = av.open(
                fileobj, "r", metadata_errors="ignore", buffer_size=BLOCK, options=options
            )
            fileobj.readahead = 0  # from now on, reads are planned
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
        stream = _video_stream(container, stream_index, source.uri)
        cc = stream.codec_context
        check_picture(cc.width, cc.height, source.uri)  # before any frame of ours
    except BaseException:
        container.close()
        if fileobj is not None:
            fileobj.close()
        raise
    return container, stream, fileobj


def _open_remote(source: ByteSource) -> BlockFile:
    """Open a source without a local path through a block cache, checking its identity.

    Raises:
        SourceUnreadableError: The content changed since the source was opened (another
            size or ETag): an index of the old content must not drive reads of the new.
    """
    before = source.identity
    raw = source.open()
    try:
        if source.identity != before:
            raise SourceUnreadableError(
                "the content changed since it was indexed (size, ETag or version differs)",
                uri=source.uri,
            )
        # A source that can read a byte range in one request (mediaref-fsspec) is read that
        # way: its file's own cache would split and round the planned ranges.
        read_range = getattr(source, "read_range", None)
        return BlockFile(raw, source.uri, tuple(before), read_range=read_range)
    except BaseException:
        raw.close()
        raise


def _video_stream(
    container: av.container.InputContainer, stream_index: int | None, uri: str
) -> av.video.stream.VideoStream:
    import av

    videos = container.streams.video
    if stream_index is None:
        if not videos:
            kinds = ", ".join(sorted({str(s.type) for s in container.streams})) or "none"
            raise UndecodableMediaError(f"no video stream in this file (streams: {kinds})", uri=uri)
        best = container.streams.best("video")
        return best if isinstance(best, av.video.stream.VideoStream) else videos[0]
    match = [s for s in videos if s.index == stream_index]
    if not match:
        raise UndecodableMediaError(
            f"stream {stream_index} is not a video stream "
            f"(video streams: {[s.index for s in videos]})",
            uri=uri,
        )
    return match[0]


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


def _stale(now: float) -> list[Handle]:
    """Take the handles idle for more than `_IDLE_S` out of `_idle` (under `_lock`)."""
    out: list[Handle] = []
    while _idle:
        hid = next(iter(_idle))  # the least recently checked in first
        if now - _idle[hid].idle_since <= _IDLE_S:
            break
        out.append(_idle.pop(hid))
    return out


def checkout(
    key: Hashable,
    prefer: Callable[[Handle], bool] | None = None,
    fallback: Callable[[Handle], bool] | None = None,
) -> Handle | None:
    """Take an idle handle for `key`, if any; the caller owns it until `checkin`.

    An idle handle that `prefer` accepts is taken first, whatever its key (a decoder left
    live where the caller goes on, under another codec threading); then one for `key`;
    then one that `fallback` accepts. Closes the containers that have been idle for more
    than `_IDLE_S` first.
    """
    handle = None
    with _lock:
        _check_pid()
        stale = _stale(_clock())
        order = list(reversed(_idle))  # the most recently used first: its pages are warm
        for accept in (prefer, lambda h: h.key == key, fallback):
            if accept is not None and handle is None:
                handle = next((_idle.pop(i) for i in order if accept(_idle[i])), None)
    for h in stale:
        h.close()
    if handle is not None:
        _counters.add(container_hits=1)
    return handle


def checkin(handle: Handle) -> None:
    """Return a handle to the idle cache (closing the least recently used beyond the bound)."""
    if handle.pid != os.getpid():
        _orphans.append(handle)
        return
    now = _clock()
    handle.idle_since = now
    with _lock:
        _check_pid()
        evicted = _stale(now)
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
