"""Colour conversion by swscale straight into the caller's array (``batch_decode(out=...)``).

PyAV's ``VideoReformatter.reformat`` always allocates the frame it converts into; a frame
meant for the caller's memory then costs one more copy (at 640x360 RGB on the 2 cores
here: 0.13 ms a frame through ``reformat`` + copy, 0.09 ms converted in place). So this
module calls the same FFmpeg function PyAV calls, ``sws_scale_frame``, in the libswscale
PyAV ships and has loaded, with a destination ``AVFrame`` whose planes are the caller's
array (``VideoFrame.from_numpy_buffer``), and sets the frames' colour properties exactly
as PyAV's ``reformat`` does (``_set_frame_colorspace``, transfer and primaries left out of
the conversion). The pixels are therefore the ones ``reformat`` gives; and each conversion
setup (pixel formats, sizes, colour properties, scaler flags) is checked once per process
against ``reformat`` itself, falling back to it for good if they differ.

Everything PyAV does not expose is checked before use: only PyAV releases whose layout
was tested (`_PYAV_CHECKED`), the libraries are PyAV's own (their versions are the ones
``av.library_versions`` reports), and a frame's ``AVFrame``
pointer (the first field of PyAV's ``Frame`` object) must show the frame's plane pointer,
line size, width and height; else this path is off and ``reformat`` + copy is used.
``MEDIAREF_AV_SWSCALE_INTO=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import av

__all__ = ["Into", "available"]

_AVCOL_TRC_UNSPECIFIED = 2
_AVCOL_PRI_UNSPECIFIED = 2
_AVCOL_RANGE_JPEG = 2
_SPC_OF_SWS_CS = {1: 1, 4: 4, 5: 6, 7: 7, 9: 9}
"""PyAV's ``_set_frame_colorspace``: a ``SWS_CS_*`` value -> the ``AVColorSpace`` it sets
(PyAV passes the frame's own ``AVColorSpace`` through it, so BT470BG (5) becomes
SMPTE170M (6), the same coefficients); other values leave the frame's colorspace as is."""

_FRAME_PTR_OFFSET = object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p)
"""Where PyAV's ``Frame`` keeps its ``AVFrame *``: after the object header and Cython's
table of C methods (``cdef class Frame: cdef lib.AVFrame *ptr``, its first field)."""

_PYAV_CHECKED = ("18.",)
"""PyAV releases whose ``Frame`` layout this module was tested on (others: reformat + copy)."""

_lock = threading.Lock()
_libs: tuple[Any, Any] | bool | None = False
"""(libswscale, libavutil) once loaded; `None`: not usable here; `False`: not tried yet."""
_verdicts: dict[tuple[object, ...], bool] = {}
"""Per conversion setup: whether converting in place gave `reformat`'s pixels."""


def _find(name: str) -> str | None:
    """The path of PyAV's bundled `name` library (auditwheel or delocate), if unique."""
    import av

    pkg = os.path.dirname(av.__file__)
    patterns = [
        os.path.join(pkg, os.pardir, "av.libs", f"lib{name}-*.so*"),  # manylinux wheels
        os.path.join(pkg, ".dylibs", f"lib{name}.*dylib"),  # macOS wheels
    ]
    found = sorted({os.path.realpath(p) for pat in patterns for p in glob.glob(pat)})
    return found[0] if len(found) == 1 else None


def _load() -> tuple[Any, Any] | None:
    if os.environ.get("MEDIAREF_AV_SWSCALE_INTO", "1") == "0" or sys.platform == "win32":
        return None
    import av
    import av.video.reformatter  # loads libswscale into the process

    if not av.__version__.startswith(_PYAV_CHECKED):
        return None  # a PyAV whose object layout was not checked here

    paths = _find("swscale"), _find("avutil")
    if paths[0] is None or paths[1] is None:
        return None
    try:
        sws, avu = ctypes.CDLL(paths[0]), ctypes.CDLL(paths[1])
        for lib, fn, key in (
            (sws, "swscale_version", "libswscale"),
            (avu, "avutil_version", "libavutil"),
        ):
            getattr(lib, fn).restype = ctypes.c_uint
            v = getattr(lib, fn)()
            if (v >> 16, (v >> 8) & 0xFF, v & 0xFF) != tuple(av.library_versions[key]):
                return None  # not the library PyAV uses
        sws.sws_alloc_context.restype = ctypes.c_void_p
        sws.sws_alloc_context.argtypes = []
        sws.sws_free_context.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        sws.sws_free_context.restype = None
        sws.sws_scale_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        sws.sws_scale_frame.restype = ctypes.c_int
        avu.av_opt_set_int.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int64,
            ctypes.c_int,
        ]
        avu.av_opt_set_int.restype = ctypes.c_int
        avu.av_frame_copy_props.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        avu.av_frame_copy_props.restype = ctypes.c_int
    except (OSError, AttributeError, KeyError):
        return None
    probe = av.VideoFrame(16, 16, "yuv420p")
    if frame_pointer(probe) is None:  # PyAV keeps its AVFrame pointer elsewhere now
        return None
    return sws, avu


def _libraries() -> tuple[Any, Any] | None:
    global _libs
    if _libs is False:
        with _lock:
            if _libs is False:
                _libs = _load()
    return _libs  # type: ignore[return-value]


def available() -> bool:
    """Whether frames can be converted in place in this process."""
    return _libraries() is not None


def frame_pointer(frame: av.VideoFrame) -> int | None:
    """The frame's ``AVFrame *``, checked against what PyAV reports of it; else `None`."""
    p = ctypes.c_void_p.from_address(id(frame) + _FRAME_PTR_OFFSET).value
    if not p:
        return None
    plane = frame.planes[0]
    # AVFrame starts with data[8], linesize[8], extended_data, width, height: a stable ABI.
    data0 = ctypes.c_void_p.from_address(p).value
    line0 = ctypes.c_int.from_address(p + 64).value
    width = ctypes.c_int.from_address(p + 104).value
    height = ctypes.c_int.from_address(p + 108).value
    ok = (data0, line0, width, height) == (
        plane.buffer_ptr,
        plane.line_size,
        frame.width,
        frame.height,
    )
    return p if ok else None


class Into:
    """One swscale context that converts frames into given arrays (see the module).

    Not thread-safe: one per `Converter`, used by one thread at a time.
    """

    def __init__(self) -> None:
        self._libs = _libraries()
        self._ctx = ctypes.c_void_p(None)
        self._flags: int | None = None

    def convert(
        self,
        frame: av.VideoFrame,
        dest: NDArray[np.uint8],
        pix_fmt: str,
        flags: int,
        reference: Any,
    ) -> bool:
        """Convert `frame` into `dest` (``(H, W[, C])``, C-contiguous) as `pix_fmt`.

        `reference()` returns what ``reformat`` gives for the frame; it is called the first
        time a conversion setup is seen, to compare. Returns whether `dest` holds the frame
        (else the caller converts it the usual way).
        """
        if self._libs is None:
            return False
        key = (
            frame.format.name,
            frame.width,
            frame.height,
            int(frame.colorspace),
            int(frame.color_range),
            int(frame.color_trc),
            int(frame.color_primaries),
            pix_fmt,
            dest.shape,
            flags,
        )
        verdict = _verdicts.get(key)
        if verdict is False:
            return False
        if not self._scale(frame, dest, pix_fmt, flags):
            _verdicts[key] = False
            return False
        if verdict is None:
            _verdicts[key] = ok = bool(np.array_equal(dest, reference()))
            return ok
        return True

    def _scale(
        self, frame: av.VideoFrame, dest: NDArray[np.uint8], pix_fmt: str, flags: int
    ) -> bool:
        import av

        assert self._libs is not None
        sws, avu = self._libs
        # The layout was checked on a probe frame when the libraries loaded (`_load`).
        src_p = ctypes.c_void_p.from_address(id(frame) + _FRAME_PTR_OFFSET).value
        try:
            target = av.VideoFrame.from_numpy_buffer(dest, format=pix_fmt)
        except (ValueError, TypeError):
            return False
        dst_p = ctypes.c_void_p.from_address(id(target) + _FRAME_PTR_OFFSET).value
        if not src_p or not dst_p:
            return False
        if not self._ctx.value:
            self._ctx.value = sws.sws_alloc_context()
            if not self._ctx.value:
                return False
            # Freed with this object, or at exit (before modules are torn down).
            weakref.finalize(self, sws.sws_free_context, ctypes.byref(self._ctx))
        if flags != self._flags:
            avu.av_opt_set_int(self._ctx, b"sws_flags", flags, 0)
            avu.av_opt_set_int(self._ctx, b"threads", 1, 0)
            self._flags = flags
        saved = (frame.colorspace, frame.color_range, frame.color_trc, frame.color_primaries)
        # As PyAV's reformat: the target mimics the source, transfer and primaries stay
        # out of the conversion, the colorspaces pass through `_set_frame_colorspace`.
        avu.av_frame_copy_props(dst_p, src_p)
        spc = _SPC_OF_SWS_CS.get(int(saved[0]), int(saved[0]))
        frame.color_trc = target.color_trc = _AVCOL_TRC_UNSPECIFIED
        frame.color_primaries = target.color_primaries = _AVCOL_PRI_UNSPECIFIED
        frame.colorspace = target.colorspace = spc
        target.color_range = _AVCOL_RANGE_JPEG
        try:
            ret = sws.sws_scale_frame(self._ctx, dst_p, src_p)  # ctypes releases the GIL
        finally:
            frame.colorspace, frame.color_range, frame.color_trc, frame.color_primaries = saved
        return bool(ret >= 0)
