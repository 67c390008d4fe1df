"""`AVVideoDecoder`: the frames on screen at given times, with the least decoding work."""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Hashable, Sequence
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mediaref import (
    ByteSource,
    ImageFormat,
    MediaRefError,
    SourceUnreadableError,
    TimestampOutOfRangeError,
    UndecodableMediaError,
    VideoMetadata,
    open_source,
)
from mediaref.timeline import indices_played_at, indices_shown_between, out_of_range

from . import _buffers, _counters, _pool, _threads
from ._bounds import check_picture, check_request
from ._convert import FORMATS, Frames, Layout, Output, orientation
from ._cues import CueIndex, CuesUnusable, cue_indexes, open_cues
from ._demux import IndexScan
from ._index import Index, IndexData
from ._index_cache import cache_dir, content_key, disk_cacheable, index_cache
from ._index_cache import index_cache as _indexes  # `__init__` has an option of that name
from ._matroska import matroska_cues
from ._plan import Run, plan, split
from ._runs import RunDecoder
from ._shaping import check_shaping, destinations, out_size, shown_size
from ._stepping import Stepping
from ._tables import SCAN_READAHEAD, is_mov, table_index
from ._threads import ONE_THREAD, Threading, codec_threading, cpus, executor, short_threading
from ._trim import note_returned

__all__ = ["OPTIONS", "AVVideoDecoder", "minimal_frames", "open"]

OPTIONS = (
    "stream",
    "threads",
    "workers",
    "index_cache",
    "skip_nonref",
    "keep_av_open",
    "size",
    "max_size",
    "layout",
)
_BLOCK_HEAD = 64
"""Bytes past a Matroska packet's ``pos + size`` that its block still holds: FFmpeg's
``pos`` is the block's payload, whose header (track, time, flags; 4 bytes for one
unlaced frame) precedes the frame's ``size`` bytes."""
_MIN_PARALLEL_PACKETS = 12
"""Below this many packets a request is not worth handing to a second decoder."""


_PoolKey = tuple[Hashable, int | None, str, int]
"""(file identity, stream option, FFmpeg thread type, codec threads: 0 = FFmpeg's choice)."""
_OPEN_FOR_SHORT = 4
"""Short-run requests of a file served by its container of another threading before a
container of the short runs' threading opens: opening one (container and codec) cost
0.5-1.4 ms on 2 cores (640x360 H.264/HEVC, 640x480 AV1; open and first decode 1.8-2.7 ms
against a decode of 1.3 ms), a one-packet request on one thread saves ~0.25 ms against
frame threads."""


def _file_of(h: _pool.Handle) -> object:
    key: _PoolKey = h.key  # type: ignore[assignment]  # our handles' keys
    return key[:2]


def _forget_frames(error: BaseException) -> None:
    """Drop the locals of the finished frames in an error's tracebacks.

    A caller may keep an error for long (``batch_decode(on_error="return")``); its
    frames must not keep a discarded container's codec (and its threads) alive.
    """
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        traceback.clear_frames(e.__traceback__)
        e = e.__cause__ or e.__context__


class AVVideoDecoder:
    """One video stream of a file, decoded with PyAV (FFmpeg).

    Implements `mediaref.VideoDecoder` (and `KeepOpen`, `FrameTimes`, `FramesInto`,
    `TimeRange`). The packet index is cached per file identity
    (in memory, and on disk with ``index_cache=``); the container is taken from a
    process-wide cache of open containers and returned to it by `close`.

    Args:
        source: A `mediaref.ByteSource`, or a path/URI string that `mediaref.open_source`
            opens.
        stream: Index of the video stream to use; default is the one a player picks.
        threads: Most codec threads per decoder; ``1`` decodes in the calling thread
            only; ``0`` or `None` (default): as many as CPUs. Chosen per request: runs
            of a frame or two from a keyframe decode on one thread (no pipeline to fill
            after the seek and drain at the end; on slice threads where one picture
            decodes in parallel parts: HEVC wavefront rows, VP9 tile columns), and every
            request does while each CPU already has a decoder of this process at work
            or another process's; longer runs get one
            thread per slice for pictures of several slices, else FFmpeg's choice
            (frame threads; dav1d's tile and frame threads for AV1). FFmpeg's threads
            decode without Python's GIL, so they also let `workers` overlap.
        workers: Decoders (each with its own container) that share a request's
            independent runs between them; default: the CPUs this process may use, at
            most 4.
        index_cache: Directory for the on-disk index cache; default
            ``$MEDIAREF_AV_INDEX_CACHE`` (unset: memory only); ``False`` disables it.
        skip_nonref: Let the codec skip non-reference pictures that no returned frame
            needs (H.264); the frames returned are identical either way.
        keep_av_open: Accepted for code written for mediaref 0.4.4, and ignored:
            containers always go back to the bounded, fork-safe pool of open containers
            (`mediaref.cleanup_cache` closes them).
        size: ``(height, width)`` of the returned frames as shown (after rotation):
            resized in the colour conversion itself (swscale, area averaging), not after.
        max_size: ``(width, height)`` box to fit the frames in, keeping the aspect ratio
            and never enlarging (the same option and meaning as ``mediaref-pil``'s);
            exclusive with `size`.
        layout: ``"hwc"`` (default) or ``"chw"``: channels first, ``(C, H, W)`` (gray
            ``(1, H, W)``), written so by the one copy every frame gets anyway.

    Raises:
        UndecodableMediaError: Not a video (audio-only, an image, corrupt), or no
            frames.
    """

    def __init__(
        self,
        source: ByteSource | str | os.PathLike[str],
        *,
        stream: int | None = None,
        threads: int | None = None,
        workers: int | None = None,
        index_cache: str | os.PathLike[str] | bool | None = None,
        skip_nonref: bool = True,
        keep_av_open: bool = True,
        size: tuple[int, int] | None = None,
        max_size: tuple[int, int] | None = None,
        layout: Layout = "hwc",
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(
                f"unknown option(s) {sorted(unknown)} for the pyav backend; "
                f"valid: {', '.join(OPTIONS)}"
            )
        if isinstance(source, (str, os.PathLike)):  # not the Protocol check: ~27 us a call
            source = open_source(os.fspath(source))
        self._source = source
        self.uri = source.uri
        self._stream_option = stream
        self._threads = threads
        self._cpus = cpus()
        self._workers = workers if workers is not None else _threads.parallel_decoders(self._cpus)
        self._skip_nonref = skip_nonref
        self._cache_dir = cache_dir(index_cache)
        self._shape_options = check_shaping(size, max_size, layout)
        self._index_key: tuple[tuple[object, ...], int | None] = (content_key(source), stream)
        self._file_key = (source.identity, stream)
        self._parallel = ONE_THREAD
        """The codec threading for long runs (`codec_threading`), known with the index."""
        self._short = ONE_THREAD
        """The codec threading for short runs (`short_threading`), known with the index."""
        self._handle: _pool.Handle | None = None
        self._cleared = _indexes.cleared
        """`index_cache.cleared` when opened (`reusable`)."""
        self._lock = threading.RLock()
        self._closed = False
        self._served = False
        """Whether a request was served: later ones check that a remote source is unchanged."""
        self._full: Index | None = None
        """The index of every packet; `None` while a lazy Matroska index serves (`_cues`)."""
        self._cues: CueIndex | None = None
        """Remote Matroska/WebM with cues: GOPs are indexed when a request needs them."""
        try:
            self._full = self._load_index(lazy=True)
        except BaseException:
            self.close()
            raise
        desc = self._description()
        # Containers are cached per file, stream and codec threading.
        self._parallel = codec_threading(threads, desc.slices)
        self._short = short_threading(
            threads, desc.codec, desc.width, desc.wavefront, cpus=self._cpus
        )
        self._probe = not desc.declared_reorder
        """Whether FFmpeg's probe decodes pictures when this file is opened again."""
        self._metadata: VideoMetadata | None = None
        self._out_size = out_size(shown_size(desc), *self._shape_options[:2])

    # -- resources --------------------------------------------------------------------

    def _acquire(self, threading: Threading, first: Run | None, idx: Index | None) -> _pool.Handle:
        """Return a container whose codec decodes with `threading`, keeping a live one.

        The container held since the last call is kept when its decoder is live where
        `first` goes on with a short run (stepping forward: no seek, whatever its
        threading). Otherwise it goes back to the pool, where it stays warm for requests
        of its shape.
        """
        h = self._handle
        if h is not None:
            if h.pid == os.getpid():
                if h.key == self._key(threading) or (
                    first is not None and idx is not None and self._goes_on(h, first, idx)
                ):
                    return h
                if idx is not None and self._lends(threading, idx):
                    idx.short_elsewhere += 1
                    return h
                self._release()
            else:
                # Inherited through fork: never use it, and never free it here either (its
                # codec and scaler would join threads that only exist in the parent).
                _pool.orphan(h)
                self._handle = None
        if self._closed:
            raise ValueError("this video decoder is closed")
        self._handle = h = self._checkout(self._key(threading), first, idx)
        return h

    def _goes_on(self, h: _pool.Handle, first: Run, idx: Index) -> bool:
        """Whether `h`'s decoder gets `first` with no seek (as `_stepping` decides).

        Stepping forward, a decoder left live (or holding frames decoded ahead, or
        decoding ahead in a worker, or a demuxer standing at the run's start) is kept
        whatever its threading: the other threading would decode the run again from its
        keyframe after a seek, which costs more than any threading saves on the packets
        left. (While a worker decodes ahead, `next_dpos` only grows: the answer holds.)
        """
        st = h.stepping
        if st.index is not idx or st.next_dpos is None or not st.follows(idx, first):
            return False
        return st.live or bool(st.ready) or st.ahead is not None or st.next_dpos == first.start

    def _checkout(
        self, key: _PoolKey, first: Run | None = None, idx: Index | None = None
    ) -> _pool.Handle:
        """An idle container for `key`, or one of this file that serves `first` as well.

        With `first` (the request's first run, in `idx`): a container of this file left live where
        `first` goes on is taken before any (a reference decoded per call,
        `MediaRef.to_ndarray` in a loop, opens a decoder per call: stepping forward goes
        on from the container the last call left live). A one-thread request takes a
        container of this file under another threading rather than open one, for its
        first `_OPEN_FOR_SHORT` requests.
        """
        file_key = self._file_key
        prefer = fallback = None
        if first is not None and idx is not None:
            run, index = first, idx

            def prefer(h: _pool.Handle) -> bool:
                return _file_of(h) == file_key and self._goes_on(h, run, index)

            if self._lends(key[2:], idx):

                def fallback(h: _pool.Handle) -> bool:
                    return _file_of(h) == file_key

        h = _pool.checkout(key, prefer, fallback)
        if h is None:
            h = _pool.open_handle(key, self._source, self._stream_option, probe=self._probe)
            self._configure(h)
        elif fallback is not None and idx is not None and h.key != key:
            idx.short_elsewhere += 1
        return h

    def _lends(self, threading: Threading, idx: Index) -> bool:
        """Whether a short-run request may take this file's container of another threading.

        Not when the caller asked for one thread (``threads=1``).
        """
        return (
            threading in (ONE_THREAD, self._short)
            and threading != self._parallel
            and idx.short_elsewhere < _OPEN_FOR_SHORT
        )

    def _key(self, threading: Threading) -> _PoolKey:
        return (*self._file_key, *threading)

    @staticmethod
    def _configure(h: _pool.Handle) -> None:
        key: _PoolKey = h.key  # type: ignore[assignment]  # our handles' keys
        h.configure(key[2], key[3])

    def _release(self, *, broken: bool = False) -> None:
        h, self._handle = self._handle, None
        if h is None:
            return
        if h.pid != os.getpid():
            _pool.orphan(h)
            return
        if broken:
            _pool.discard(h)
        else:
            _pool.checkin(h)

    def close(self) -> None:
        """Return the container to the cache of open containers; safe to call twice."""
        with self._lock:
            self._closed = True
            self._release()

    def park(self) -> None:
        """Wait between two calls of the core (`mediaref.KeepOpen`) without a container.

        The container goes back to the pool, where `clear_caches` can close it and other
        decoders may take it (the next request takes it back first while it is live:
        `_pool.checkout`).
        """
        with self._lock:
            self._release()

    def reusable(self) -> bool:
        """Whether this decoder may serve the core's next call (`mediaref.KeepOpen`).

        Not once closed, nor once `clear_caches` forgot the indexes (its own may be stale).
        """
        return not self._closed and _indexes.cleared == self._cleared

    def __enter__(self) -> AVVideoDecoder:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- index and metadata -----------------------------------------------------------

    def _load_index(self, *, lazy: bool) -> Index | None:
        """Return the index of every packet, or `None` with `_cues` set (`lazy` allows it).

        From the memory cache, the disk cache, the cues of a remote Matroska/WebM file
        (`lazy`), MP4 sample tables, or a full scan, in that order.
        """
        idx = index_cache.get(self._index_key)
        if idx is not None:
            _counters.add(index_hits=1)
            return idx
        disk = self._cache_dir if disk_cacheable(self._index_key[0]) else None
        if disk is not None:
            idx = index_cache.load(disk, self._index_key)
            if idx is not None:
                _counters.add(index_hits=1, index_disk_hits=1)
                return index_cache.put(self._index_key, idx)
        if lazy and self._source.local_path is None:
            self._cues = cue_indexes.get(self._index_key)
            if self._cues is not None:
                return None
        # A fresh container: demuxing starts at the first packet.
        h = self._handle = _pool.open_handle(None, self._source, self._stream_option)
        try:
            data = self._scan(h, lazy=lazy)
            if isinstance(data, CueIndex):
                self._cues = cue_indexes.put(self._index_key, data)
                return None
        except MediaRefError as e:
            del h
            self._release(broken=True)
            _forget_frames(e)
            if e.uri is None:
                raise type(e)(e.message, uri=self.uri) from None
            raise
        except Exception as e:
            del h
            self._release(broken=True)
            _forget_frames(e)
            raise self._wrap(e) from e
        _counters.add(index_builds=1)
        try:
            idx = Index(data)
        except MediaRefError as e:
            raise UndecodableMediaError(e.message, uri=self.uri) from None
        if disk is not None:
            index_cache.save(disk, self._index_key, data)
        return index_cache.put(self._index_key, idx)

    def _scan(self, h: _pool.Handle, *, lazy: bool) -> IndexData | CueIndex:
        f = h.fileobj
        cues = None
        if f is not None:  # remote: the container's own tables, where it has usable ones
            data = table_index(h.container, h.stream, f, f.size, lambda n: self._set_key(h, n))
            if data is not None:
                return data
            if is_mov(h.container):  # the attempt demuxed: start again at the first packet
                h.reopen(self._source)
            f = h.fileobj
            assert f is not None
            cues = matroska_cues(h.container, f)
            if lazy and cues:
                lazy_index = open_cues(h, cues, lambda n: self._set_key(h, n))
                if lazy_index is not None:
                    return lazy_index
                h.reopen(self._source)  # the attempt demuxed: start again at the first packet
                f = h.fileobj
                assert f is not None
            f.readahead = SCAN_READAHEAD
        scan = IndexScan(h.container, h.stream)
        # The container's key (codec threading, set before the codec opens) is known once
        # the first packet shows how many slices pictures have.
        self._set_key(h, scan.slices())
        data = scan.run()
        if f is None:
            data.origin = "full scan (local file)"
        else:
            f.readahead = 0
            if is_mov(h.container):
                data.origin = "full scan (mov sample tables unusable: edit list or fragments)"
            elif cues is not None:
                what = "its cues list keyframes only" if cues else "it has no cues"
                data.origin = f"full scan (no sample tables in matroska; {what})"
        return data

    def _set_key(self, h: _pool.Handle, slices: int) -> None:
        h.key = self._key(codec_threading(self._threads, slices))
        self._configure(h)

    @property
    def index_origin(self) -> str:
        """How the packet index was made (``mediaref probe`` prints it)."""
        return self._description().origin

    def _description(self) -> IndexData:
        """The stream's description, from whichever index serves."""
        if self._full is not None:
            return self._full.data
        assert self._cues is not None
        return self._cues.desc

    @property
    def _index(self) -> Index:
        """The index of every packet: a lazy Matroska index scans the file for it here."""
        full = self._full
        return full if full is not None else self._scan_all()

    def _scan_all(self) -> Index:
        """Replace the lazy index by a full scan's (what needs every packet asks for it)."""
        with self._lock:
            if self._full is None:
                self._release()  # its demuxer stands wherever the lazy index left it
                full = self._load_index(lazy=False)
                assert full is not None
                self._full = full
        return self._full

    def _make_metadata(self) -> VideoMetadata:
        idx = self._index
        d = idx.data
        rotation, _ = orientation(d.display_matrix, d.rotation)
        height, width = shown_size(d)
        return VideoMetadata(
            codec=d.codec,
            width=width,
            height=height,
            num_frames=idx.num_frames,
            begin_ns=idx.begin_ns,
            end_ns=idx.end_ns,
            average_fps=idx.average_fps(),
            time_base=d.time_base,
            pixel_format=d.pixel_format,
            stream_index=d.stream_index,
            rotation=rotation,
            key_frames=len(idx.key_dpos),
        )

    @property
    def metadata(self) -> VideoMetadata:
        """The stream's metadata; `width` and `height` are those of the returned frames.

        A remote Matroska/WebM file indexed from its cues is scanned in full here (the
        frame count needs every packet); `out_of_range` does not need it.
        """
        if self._metadata is None:
            self._metadata = self._make_metadata()
        return self._metadata

    @property
    def index(self) -> Index:
        """The packet index (for tests and tools)."""
        return self._index

    # -- public decoding --------------------------------------------------------------

    def out_of_range(self, pts_ns: Sequence[int]) -> list[TimestampOutOfRangeError | None]:
        """Return, per timestamp, the error it raises if outside the stream, else `None`.

        Implements `mediaref.TimeRange`. A lazy Matroska index reads the last GOP (for the
        exact end) only when a timestamp lies before the first frame or after the last
        keyframe.
        """
        c = self._cues if self._full is None else None
        if (
            c is not None
            and c.end_ns is None
            and any(t < c.begin_ns or t >= int(c.cue_ns[-1]) for t in pts_ns)
        ):
            try:
                self._lazy_end(c)
            except CuesUnusable:
                self._give_up_cues()
                c = None
        if c is None:
            idx = self._index
            begin, end = idx.begin_ns, idx.end_ns
        else:
            begin, end = c.begin_ns, c.end_ns if c.end_ns is not None else 1 << 63
        return [out_of_range(t, begin, end, uri=self.uri) for t in pts_ns]

    def frame_indices(self, pts_ns: Sequence[int]) -> list[int]:
        """Return the frame (presentation order) on screen at each timestamp.

        Raises:
            TimestampOutOfRangeError: A timestamp outside ``[begin_ns, end_ns)``.
        """
        idx = self._index
        return indices_played_at(idx.frame_ns, idx.end_ns, list(pts_ns), uri=self.uri)

    def shown_at(self, pts_ns: Sequence[int]) -> list[tuple[int, int]]:
        """Return ``(frame index, first ns on screen)`` of the frame played at each time.

        Implements `mediaref.FrameTimes`, from the index the frames are decoded with.

        Raises:
            TimestampOutOfRangeError: A timestamp outside ``[begin_ns, end_ns)``.
        """
        starts = self._index.frame_ns
        return [(i, int(starts[i])) for i in self.frame_indices(pts_ns)]

    def shown_between(self, start_ns: int, stop_ns: int) -> list[tuple[int, int]]:
        """Return ``(frame index, first ns on screen)`` of every frame shown in the window.

        The window ``[start_ns, stop_ns)`` is clipped to the stream (`mediaref.timeline.
        indices_shown_between`).
        """
        idx = self._index
        starts = idx.frame_ns
        found = indices_shown_between(starts, idx.end_ns, start_ns, stop_ns)
        return [(i, int(starts[i])) for i in found]

    def frames_played_at(
        self, pts_ns: Sequence[int], *, format: ImageFormat = "rgb"
    ) -> list[NDArray[np.uint8]]:
        """Decode the frames on screen at each timestamp (ns, any order, repeats allowed).

        Returns:
            One uint8 array per timestamp, in the order asked: ``(H, W, 3)`` for rgb/bgr,
            ``(H, W, 4)`` for rgba/bgra, ``(H, W)`` for gray.

        Raises:
            TimestampOutOfRangeError: A timestamp outside ``[begin_ns, end_ns)``.
            UndecodableMediaError: The stream cannot be decoded.
        """
        return self._played_at(pts_ns, format, None)

    def frames_played_at_into(
        self, pts_ns: Sequence[int], out: Sequence[Any], *, format: ImageFormat = "rgb"
    ) -> None:
        """Decode the frame on screen at ``pts_ns[i]`` straight into ``out[i]``.

        Implements `mediaref.FramesInto`: each frame is converted (swscale, or the luma
        plane for gray) into its slot, with no copy in between; a frame asked for twice is
        converted once and copied to its second slot.

        Raises:
            InvalidOutputError: A slot that is not a writable C-contiguous uint8 array of
                the returned frames' shape (before any slot is written).
            TimestampOutOfRangeError: A timestamp outside ``[begin_ns, end_ns)``.
            UndecodableMediaError: The stream cannot be decoded.
        """
        self._played_at(pts_ns, format, out)

    def _played_at(
        self, pts_ns: Sequence[int], format: ImageFormat, out: Sequence[Any] | None
    ) -> list[NDArray[np.uint8]]:
        c = self._cues if self._full is None else None
        if c is not None:
            for err in self.out_of_range(pts_ns):
                if err is not None:
                    raise err
            try:
                return self._lazy_frames(c, list(pts_ns), format, out)
            except CuesUnusable:
                self._give_up_cues()
        return self.frames_at(self.frame_indices(pts_ns), format=format, out=out)

    def frames_at(
        self,
        indices: Sequence[int],
        *,
        format: ImageFormat = "rgb",
        out: Sequence[Any] | None = None,
    ) -> list[NDArray[np.uint8]]:
        """Decode frames by their index in presentation order (any order, repeats allowed).

        With `out` (one destination per index, as in `frames_played_at_into`), frame ``i``
        is written into ``out[i]`` and the arrays returned are views of them.

        Raises:
            IndexError: An index outside ``[0, num_frames)``.
            InvalidOutputError: A slot of `out` that does not fit.
            UndecodableMediaError: The stream cannot be decoded.
        """
        if format not in FORMATS:
            raise ValueError(f"format must be one of {sorted(FORMATS)}, got {format!r}")
        n = self._index.num_frames
        for f in indices:
            if not 0 <= f < n:
                raise IndexError(f"frame index {f} is outside [0, {n})")
        dests = self._destinations(out, len(indices), format)
        if indices:
            self._check_served()
        into = None if dests is None else dict(zip(indices, dests, strict=True))
        got = self._frames_of(self._index, indices, format, into)
        return self._in_order(indices, got, dests)

    def _destinations(
        self, out: Sequence[Any] | None, n: int, format: ImageFormat
    ) -> list[NDArray[np.uint8]] | None:
        if out is None:
            return None
        spec = Output(format, self._out_size, self._shape_options[2])
        shape = spec.shape(*shown_size(self._description()))
        return destinations(out, n, shape, self.uri)

    @staticmethod
    def _in_order(
        keys: Sequence[int],
        got: dict[int, NDArray[np.uint8]],
        dests: list[NDArray[np.uint8]] | None,
    ) -> list[NDArray[np.uint8]]:
        """The arrays of `keys` in order: each its own, or the caller's slot (`dests`)."""
        frames: list[NDArray[np.uint8]] = []
        seen: set[int] = set()
        for k, f in enumerate(keys):
            arr = got[f]
            if dests is not None:
                if arr is not dests[k]:  # a repeat, or a frame converted ahead
                    np.copyto(dests[k], arr)
                frames.append(dests[k])
                continue
            frames.append(arr.copy() if f in seen else arr)  # callers may write to their arrays
            seen.add(f)
        if dests is None:
            note_returned(len(frames), sum(a.nbytes for a in frames))
        return frames

    def _frames_of(
        self,
        idx: Index,
        indices: Sequence[int],
        format: ImageFormat,
        into: dict[int, NDArray[np.uint8]] | None,
    ) -> Frames:
        """Decode frames `indices` of `idx` (valid ones), into `into`'s arrays where given."""
        got = Frames(into)
        if not indices:
            return got
        spec = Output(format, self._out_size, self._shape_options[2])
        shape = spec.shape(*shown_size(idx.data))
        # The index may come from a cache filled under other limits.
        check_picture(idx.data.width, idx.data.height, self.uri)
        check_request(len(indices), shape, self.uri)
        _buffers.reserve(shape, len(set(indices) - got.into.keys()))
        with self._lock:
            if self._closed:
                raise ValueError("this video decoder is closed")
            try:
                self._decode_all(idx, indices, got, spec)
            except BaseException as e:
                self._failed(e)
                raise self._wrap(e) from e
        return got

    def _check_served(self) -> None:
        if self._served and self._source.local_path is None:
            self._check_unchanged()
        self._served = True

    def _failed(self, e: BaseException) -> None:
        """Discard the container after an error; re-raise `e` unless it is to be wrapped."""
        self._release(broken=True)
        _forget_frames(e)
        if isinstance(e, MediaRefError) or not isinstance(e, Exception):
            raise e

    # -- a lazy Matroska index ----------------------------------------------------------

    def _give_up_cues(self) -> None:
        """The cues do not describe the stream (`CuesUnusable`): scan it, for good."""
        cue_indexes.forget(self._index_key)
        self._scan_all()

    def _lazy_handle(self) -> _pool.Handle:
        return self._acquire(self._parallel, None, None)

    def _lazy_end(self, c: CueIndex) -> int:
        """Read the last GOP, for the stream's exact end; return it."""
        with self._lock:
            if c.end_ns is None:
                self._load_gops(c, {c.count - 1: False})
        assert c.end_ns is not None
        return c.end_ns

    def _load_gops(self, c: CueIndex, gops: dict[int, bool]) -> None:
        """Demux the GOPs not yet known (value: also the next GOP's leading packets)."""
        todo = [(g, False) for g in sorted(gops) if g not in c.gops]
        todo += [(g + 1, True) for g, head in sorted(gops.items()) if head]
        todo = [(g, head) for g, head in todo if g not in c.gops and not (head and g in c.heads)]
        if not todo:
            return
        if self._closed:
            raise ValueError("this video decoder is closed")
        h = self._lazy_handle()
        try:
            if h.fileobj is not None:  # the GOPs' bytes in as few reads as they allow
                whole = [c.gop_range(g) for g, head in todo if not head]
                h.fileobj.prefetch(whole, exact=True)
            for g, head in todo:
                c.load(h, g, head=head)
        except CuesUnusable:
            self._release(broken=True)
            raise
        except BaseException as e:
            self._failed(e)
            raise self._wrap(e) from e
        # Its demuxer moved: the next request seeks.
        h.stepping.close()
        h.stepping = Stepping()

    def _lazy_frames(
        self, c: CueIndex, pts_ns: list[int], format: ImageFormat, out: Sequence[Any] | None
    ) -> list[NDArray[np.uint8]]:
        """Decode the frames on screen at `pts_ns` (in range) from the GOPs they need.

        Raises:
            CuesUnusable: The cues do not describe the stream: scan it instead.
        """
        if format not in FORMATS:
            raise ValueError(f"format must be one of {sorted(FORMATS)}, got {format!r}")
        dests = self._destinations(out, len(pts_ns), format)
        if not pts_ns:
            return []
        self._check_served()
        gop_of = {t: c.gop_at(t) for t in set(pts_ns)}
        with self._lock:
            self._load_gops(c, dict.fromkeys(gop_of.values(), False))
            # After a GOP's last picture, the next GOP's leading pictures may be shown.
            heads: dict[int, bool] = {}
            for t, g in gop_of.items():
                if g + 1 < c.count and t >= c.last_shown_ns(g):
                    heads[g] = True
            self._load_gops(c, heads)
        slot = {} if dests is None else dict(zip(pts_ns, dests, strict=True))
        done: dict[int, NDArray[np.uint8]] = {}
        for g0, g1 in _stretches(sorted(set(gop_of.values()))):
            win = c.window(g0, g1, g1 in heads)
            times = [t for t, g in gop_of.items() if g0 <= g <= g1]
            frames = indices_played_at(win.frame_ns, win.end_ns, times, uri=self.uri)
            into = {f: slot[t] for t, f in zip(times, frames, strict=True) if t in slot}
            got = self._frames_of(win, frames, format, into if dests is not None else None)
            handed: set[int] = set()
            for t, f in zip(times, frames, strict=True):  # each time's own array
                done[t] = got[f].copy() if f in handed and dests is None else got[f]
                handed.add(f)
        return self._in_order(pts_ns, done, dests)

    # -- the work ---------------------------------------------------------------------

    def _decode_all(self, idx: Index, indices: Sequence[int], got: Frames, fmt: Output) -> None:
        parts = split(idx, indices, self._workers, _MIN_PARALLEL_PACKETS)
        if len(parts) > 1:
            self._decode_parts(idx, parts, got, fmt)
            return
        runs = plan(idx, parts[0])
        running = _threads.running
        others = running.enter()
        try:
            threading = _threads.request_threading(
                self._parallel,
                longest_run=max(r.packets for r in runs),
                slices=idx.data.slices,
                others=others,
                cpus=self._cpus,
                busy=_threads.load.busy_cpus(),
                short=self._short,
            )
            h = self._acquire(threading, runs[0], idx)
            self._decode(h, idx, parts[0], got, fmt, runs)
        finally:
            running.leave()

    def _decode_parts(self, idx: Index, parts: list[set[int]], got: Frames, fmt: Output) -> None:
        # Independent runs decode in parallel, each on a single-threaded codec unless the
        # caller chose `threads`: the parallelism is then across runs, which measured
        # faster than FFmpeg's frame threads inside each decoder (2 cores, 640x360 H.264,
        # 64 random frames per call: +17% without B-frames, +18% with).
        key = self._key(self._parallel if self._threads else ONE_THREAD)
        pool = executor()
        futures = [
            pool.submit(self._decode_elsewhere, idx, p, fmt, key, got.into) for p in parts[1:]
        ]
        try:
            got.update(self._decode_elsewhere(idx, parts[0], fmt, key, got.into))
        finally:
            for fut in futures:
                got.update(fut.result())

    def _decode_elsewhere(
        self,
        idx: Index,
        frames: set[int],
        fmt: Output,
        key: _PoolKey,
        into: dict[int, NDArray[np.uint8]],
    ) -> Frames:
        """Decode `frames` with another container of the same file, cached under `key`."""
        h = self._checkout(key)
        got = Frames({f: a for f, a in into.items() if f in frames})
        running = _threads.running
        running.enter()
        try:
            self._decode(h, idx, frames, got, fmt)
        except BaseException:
            _pool.discard(h)
            raise
        finally:
            running.leave()
        _pool.checkin(h)
        return got

    def _check_unchanged(self) -> None:
        """Raise if a remote source's content changed since it was indexed (one small read).

        Opening the source again asks the server for its current size and ETag: a decoder
        kept across requests never decodes new bytes with the old index.

        Raises:
            SourceUnreadableError: The size, ETag or version differs.
        """
        self._source.open().close()  # sources re-check (fsspec) or re-probe (HTTP) here
        if tuple(self._source.identity) != self._index_key[0]:
            raise SourceUnreadableError(
                "the content changed since it was indexed (size, ETag or version differs)",
                uri=self.uri,
            )

    def _wrap(self, e: BaseException) -> UndecodableMediaError:
        return UndecodableMediaError(f"decoding failed: {type(e).__name__}: {e}", uri=self.uri)

    def _decode(
        self,
        h: _pool.Handle,
        idx: Index,
        wanted: set[int],
        got: dict[int, NDArray[np.uint8]],
        fmt: Output,
        runs: list[Run] | None = None,
    ) -> None:
        f = h.fileobj
        if runs is None:
            runs = plan(idx, wanted)
        if f is not None:
            # Remote: fetch the byte ranges of the runs, coalesced, before the demuxer reads.
            if idx is self._full:
                f.fences = []
                f.prefetch(idx.byte_ranges(runs))
            else:  # a lazy index's window: the demuxer's buffer stops where the runs end
                ranges = idx.byte_ranges(runs, slack=_BLOCK_HEAD)
                f.fences = sorted(end for _, end in ranges)
                f.prefetch(ranges, exact=True)
        RunDecoder(idx, self._source, self._skip_nonref).decode(h, wanted, got, fmt, runs)


def _stretches(gops: list[int]) -> list[tuple[int, int]]:
    """Group sorted GOP numbers into runs of consecutive ones, as ``(first, last)``."""
    out: list[tuple[int, int]] = []
    for g in gops:
        if out and out[-1][1] == g - 1:
            out[-1] = (out[-1][0], g)
        else:
            out.append((g, g))
    return out


def open(uri_or_path: str | os.PathLike[str], **options: Any) -> AVVideoDecoder:
    """Open a video by path or URI; use it in a ``with`` block.

    Example::

        with mediaref_av.open("episode.mkv") as video:
            frames = video.frames_played_at([0, 50_000_000, 50_000_000])

    Args:
        uri_or_path: Anything `mediaref.MediaRef` accepts as ``uri``.
        **options: The options of `AVVideoDecoder`.

    Raises:
        SourceNotFoundError: No such file.
        UndecodableMediaError: Not a video.
    """
    return AVVideoDecoder(uri_or_path, **options)


def minimal_frames(uri_or_path: str | os.PathLike[str], pts_ns: Sequence[int]) -> int:
    """Return how many frames the minimal plan decodes to get the frames at `pts_ns`.

    For benchmarks: compare with ``counters().frames_decoded + frames_skipped``.

    Raises:
        TimestampOutOfRangeError: A timestamp outside ``[begin_ns, end_ns)``.
    """
    from ._plan import minimal_frame_count

    with AVVideoDecoder(uri_or_path) as video:
        return minimal_frame_count(video.index, video.frame_indices(pts_ns))
