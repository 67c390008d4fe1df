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
    InvalidOutputError,
    MediaRefError,
    SourceUnreadableError,
    UndecodableMediaError,
    VideoMetadata,
    open_source,
)
from mediaref.timeline import indices_played_at, indices_shown_between

from . import _buffers, _counters, _pool, _threads
from ._bounds import check_picture, check_request
from ._convert import FORMATS, Frames, Layout, Output, fit_size, orientation
from ._demux import IndexScan
from ._index import Index, IndexData
from ._index_cache import cache_dir, content_key, disk_cacheable, index_cache
from ._matroska import matroska_cues
from ._plan import Run, plan, split
from ._runs import RunDecoder
from ._tables import SCAN_READAHEAD, is_mov, table_index
from ._threads import ONE_THREAD, Threading, codec_threading, cpus, executor
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
_MIN_PARALLEL_PACKETS = 12
"""Below this many packets a request is not worth handing to a second decoder."""


_PoolKey = tuple[Hashable, int | None, str, int]
"""(file identity, stream option, FFmpeg thread type, codec threads: 0 = FFmpeg's choice)."""


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

    Implements `mediaref.VideoDecoder`. The packet index is cached per file identity
    (in memory, and on disk with ``index_cache=``); the container is taken from a
    process-wide cache of open containers and returned to it by `close`.

    Args:
        source: A `mediaref.ByteSource`, or a path/URI string that `mediaref.open_source`
            opens.
        stream: Index of the video stream to use; default is the one a player picks.
        threads: Most codec threads per decoder; ``1`` decodes in the calling thread
            only; ``0`` or `None` (default): as many as CPUs. Chosen per request: runs
            of a frame or two from a keyframe decode on one thread (no pipeline to fill
            after the seek and drain at the end), and so does every request while each
            CPU already has a decoder of this process at work; longer runs get one
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
        self._shape_options = _check_shaping(size, max_size, layout)
        self._index_key: tuple[tuple[object, ...], int | None] = (content_key(source), stream)
        self._file_key = (source.identity, stream)
        self._parallel = ONE_THREAD
        """The codec threading for long runs (`codec_threading`), known with the index."""
        self._handle: _pool.Handle | None = None
        self._lock = threading.RLock()
        self._closed = False
        self._served = False
        """Whether a request was served: later ones check that a remote source is unchanged."""
        try:
            self._index = self._load_index()
        except BaseException:
            self.close()
            raise
        # Containers are cached per file, stream and codec threading.
        self._parallel = codec_threading(threads, self._index.data.slices)
        self._metadata = self._make_metadata()
        self._out_size = _out_size(self._metadata, *self._shape_options[:2])

    # -- resources --------------------------------------------------------------------

    def _acquire(self, threading: Threading, first: Run) -> _pool.Handle:
        """Return a container whose codec decodes with `threading`, keeping a live one.

        The container held since the last call is kept when its decoder is live where
        `first` goes on with a short run (stepping forward: no seek, whatever its
        threading). Otherwise it goes back to the pool, where it stays warm for requests
        of its shape.
        """
        h = self._handle
        if h is not None:
            if h.pid == os.getpid():
                if h.key == self._key(threading) or self._goes_on(h, first):
                    return h
                self._release()
            else:
                # Inherited through fork: never use it, and never free it here either (its
                # codec and scaler would join threads that only exist in the parent).
                _pool.orphan(h)
                self._handle = None
        if self._closed:
            raise ValueError("this video decoder is closed")
        self._handle = h = self._checkout(self._key(threading))
        return h

    def _goes_on(self, h: _pool.Handle, first: Run) -> bool:
        """Whether `h`'s decoder gets `first` with no seek (as `_stepping` decides).

        Stepping forward, a decoder left live (or a demuxer standing at the run's start)
        is kept whatever its threading: the other threading would decode the run again
        from its keyframe after a seek, which costs more than any threading saves on the
        packets left.
        """
        st = h.stepping
        if st.next_dpos is None or not st.follows(self._index, first):
            return False
        return st.live or st.next_dpos == first.start

    def _checkout(self, key: _PoolKey) -> _pool.Handle:
        h = _pool.checkout(key)
        if h is None:
            h = _pool.open_handle(key, self._source, self._stream_option)
            self._configure(h)
        return h

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

    def __enter__(self) -> AVVideoDecoder:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- index and metadata -----------------------------------------------------------

    def _load_index(self) -> Index:
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
        # A fresh container: demuxing starts at the first packet.
        h = self._handle = _pool.open_handle(None, self._source, self._stream_option)
        try:
            data = self._scan(h)
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

    def _scan(self, h: _pool.Handle) -> IndexData:
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
        return self._index.data.origin

    def _make_metadata(self) -> VideoMetadata:
        idx = self._index
        d = idx.data
        rotation, _ = orientation(d.display_matrix, d.rotation)
        turned = rotation in (90, 270)
        return VideoMetadata(
            codec=d.codec,
            width=d.height if turned else d.width,
            height=d.width if turned else d.height,
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
        """The stream's metadata; `width` and `height` are those of the returned frames."""
        return self._metadata

    @property
    def index(self) -> Index:
        """The packet index (for tests and tools)."""
        return self._index

    # -- public decoding --------------------------------------------------------------

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
        return self.frames_at(self.frame_indices(pts_ns), format=format)

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
        self.frames_at(self.frame_indices(pts_ns), format=format, out=out)

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
        if not indices:
            return []
        if self._served and self._source.local_path is None:
            self._check_unchanged()
        self._served = True
        md = self._metadata
        spec = Output(format, self._out_size, self._shape_options[2])
        shape = spec.shape(md.height, md.width)
        # The index may come from a cache filled under other limits.
        check_picture(self._index.data.width, self._index.data.height, self.uri)
        check_request(len(indices), shape, self.uri)
        dests = None if out is None else _destinations(out, len(indices), shape, self.uri)
        got = Frames(None if dests is None else dict(zip(indices, dests, strict=True)))
        _buffers.reserve(shape, len(set(indices) - got.into.keys()))
        with self._lock:
            if self._closed:
                raise ValueError("this video decoder is closed")
            try:
                self._decode_all(indices, got, spec)
            except BaseException as e:
                self._release(broken=True)
                _forget_frames(e)
                if isinstance(e, MediaRefError) or not isinstance(e, Exception):
                    raise
                raise self._wrap(e) from e
        frames: list[NDArray[np.uint8]] = []
        seen: set[int] = set()
        for k, f in enumerate(indices):
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

    # -- the work ---------------------------------------------------------------------

    def _decode_all(
        self, indices: Sequence[int], got: dict[int, NDArray[np.uint8]], fmt: Output
    ) -> None:
        parts = split(self._index, indices, self._workers, _MIN_PARALLEL_PACKETS)
        if len(parts) > 1:
            self._decode_parts(parts, got, fmt)
            return
        runs = plan(self._index, parts[0])
        running = _threads.running
        others = running.enter()
        try:
            threading = _threads.request_threading(
                self._parallel,
                longest_run=max(r.packets for r in runs),
                slices=self._index.data.slices,
                longest_gop=self._index.longest_gop,
                others=others,
                cpus=self._cpus,
            )
            self._decode(self._acquire(threading, runs[0]), parts[0], got, fmt)
        finally:
            running.leave()

    def _decode_parts(
        self, parts: list[set[int]], got: dict[int, NDArray[np.uint8]], fmt: Output
    ) -> None:
        # Independent runs decode in parallel, each on a single-threaded codec unless the
        # caller chose `threads`: the parallelism is then across runs, which measured
        # faster than FFmpeg's frame threads inside each decoder (2 cores, 640x360 H.264,
        # 64 random frames per call: +17% without B-frames, +18% with).
        key = self._key(self._parallel if self._threads else ONE_THREAD)
        into = getattr(got, "into", {})
        pool = executor()
        futures = [pool.submit(self._decode_elsewhere, p, fmt, key, into) for p in parts[1:]]
        try:
            got.update(self._decode_elsewhere(parts[0], fmt, key, into))
        finally:
            for fut in futures:
                got.update(fut.result())

    def _decode_elsewhere(
        self,
        frames: set[int],
        fmt: Output,
        key: _PoolKey,
        into: dict[int, NDArray[np.uint8]],
    ) -> dict[int, NDArray[np.uint8]]:
        """Decode `frames` with another container of the same file, cached under `key`."""
        h = self._checkout(key)
        got = Frames({f: a for f, a in into.items() if f in frames})
        running = _threads.running
        running.enter()
        try:
            self._decode(h, frames, got, fmt)
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
        self, h: _pool.Handle, wanted: set[int], got: dict[int, NDArray[np.uint8]], fmt: Output
    ) -> None:
        if h.fileobj is not None:
            # Remote: fetch the byte ranges of the runs, coalesced, before the demuxer reads.
            h.fileobj.prefetch(self._index.byte_ranges(plan(self._index, wanted)))
        RunDecoder(self._index, self._source, self._skip_nonref).decode(h, wanted, got, fmt)


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


def _destinations(
    out: Sequence[Any], n: int, shape: tuple[int, ...], uri: str
) -> list[NDArray[np.uint8]]:
    """`out` as arrays, each checked to take a frame of `shape` (else `InvalidOutputError`)."""
    if len(out) != n:
        raise InvalidOutputError(f"out has {len(out)} slots for {n} frames", uri=uri)
    arrays: list[NDArray[np.uint8]] = []
    for k, d in enumerate(out):
        try:
            a = np.asarray(d)
        except Exception:
            raise InvalidOutputError(
                f"out[{k}] is not an array: {type(d).__name__}", uri=uri
            ) from None
        if a.dtype != np.uint8 or not a.flags.c_contiguous or not a.flags.writeable:
            raise InvalidOutputError(
                f"out[{k}] must be a writable C-contiguous uint8 array, got {a.dtype} "
                f"(contiguous: {a.flags.c_contiguous}, writable: {a.flags.writeable})",
                uri=uri,
            )
        if a.shape != shape:
            raise InvalidOutputError(f"out slot has shape {a.shape}, the frame is {shape}", uri=uri)
        arrays.append(a)
    return arrays


def _check_shaping(
    size: object, max_size: object, layout: object
) -> tuple[tuple[int, int] | None, tuple[int, int] | None, Layout]:
    """Validate the output-shaping options (before any file is read)."""
    for name, value in (("size", size), ("max_size", max_size)):
        ok = value is None or (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and all(type(v) is int and v > 0 for v in value)
        )
        if not ok:
            order = "(height, width)" if name == "size" else "(width, height)"
            raise ValueError(f"{name} must be {order} positive ints, got {value!r}")
    if size is not None and max_size is not None:
        raise ValueError("give size or max_size, not both")
    if layout not in ("hwc", "chw"):
        raise ValueError(f"layout must be 'hwc' or 'chw', got {layout!r}")
    return _pair(size), _pair(max_size), layout  # type: ignore[return-value]


def _pair(value: Any) -> tuple[int, int] | None:
    return None if value is None else (int(value[0]), int(value[1]))


def _out_size(
    meta: VideoMetadata, size: tuple[int, int] | None, max_size: tuple[int, int] | None
) -> tuple[int, int] | None:
    if size is not None:
        return size
    if max_size is not None:
        return fit_size(meta.height, meta.width, max_size)
    return None
