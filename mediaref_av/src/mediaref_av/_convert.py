"""Decoded frames -> uint8 arrays, through one reused swscale context per stream.

``frame.to_ndarray(format="rgb24")`` builds a new conversion context for every frame
(~3.4 ms at 640x360 here); one reused `VideoReformatter` costs ~0.2-0.5 ms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from mediaref import ImageFormat

from . import _buffers, _counters

if TYPE_CHECKING:
    import av

    from ._swscale import Into

SWS_BILINEAR = 2
SWS_AREA = 0x20

__all__ = [
    "CHANNELS",
    "FORMATS",
    "Converter",
    "Frames",
    "Output",
    "destination",
    "fit_size",
    "orientation",
]

FORMATS: dict[str, str] = {
    "rgb": "rgb24",
    "bgr": "bgr24",
    "rgba": "rgba",
    "bgra": "bgra",
    "gray": "gray",
}
"""Our format names -> FFmpeg pixel formats."""
CHANNELS: dict[str, int] = {"rgb": 3, "bgr": 3, "rgba": 4, "bgra": 4, "gray": 1}

Layout = Literal["hwc", "chw"]


class Output(NamedTuple):
    """What a request wants its frames as: channel order, size as shown, memory layout."""

    format: ImageFormat
    size: tuple[int, int] | None = None
    """``(height, width)`` of the frame as shown (after rotation); `None`: the stream's."""
    layout: Layout = "hwc"
    """``"chw"``: channels first, ``(C, H, W)`` (gray ``(1, H, W)``), as PyTorch models take."""

    def shape(self, height: int, width: int) -> tuple[int, ...]:
        """The returned array's shape, for a frame shown at ``height x width``."""
        h, w = self.size or (height, width)
        c = CHANNELS[self.format]
        if self.layout == "chw":
            return (c, h, w)
        return (h, w, c) if c > 1 else (h, w)


def fit_size(height: int, width: int, box: tuple[int, int]) -> tuple[int, int]:
    """Return ``(height, width)`` scaled to fit `box` ``(width, height)``, never enlarged.

    The aspect ratio is kept (each side rounded, at least 1), as Pillow's ``thumbnail``
    does for images, so that ``max_size`` means the same for both plugins.
    """
    box_w, box_h = box
    scale = min(box_w / width, box_h / height, 1.0)
    return max(1, round(height * scale)), max(1, round(width * scale))


def orientation(matrix: Sequence[int] | None, rotation_ccw: int = 0) -> tuple[int, tuple[str, ...]]:
    """Return ``(clockwise degrees, array operations)`` that show a frame as FFmpeg does.

    Mirrors the ``ffmpeg`` command's autorotation: the angle from the display matrix
    picks a transpose (90/270, mirrored when the matrix says so) or flips (180, 0).
    Angles that are not multiples of 90 degrees are not applied.

    Args:
        matrix: The 3x3 display matrix (16.16 fixed point, row-major), or `None`.
        rotation_ccw: Counter-clockwise degrees (``av.VideoFrame.rotation``), used when
            there is no matrix.
    """
    if matrix is None or len(matrix) != 9:
        cw = (-rotation_ccw) % 360
        return cw, {90: ("clock",), 180: ("hflip", "vflip"), 270: ("cclock",)}.get(cw, ())
    scale0 = math.hypot(matrix[0], matrix[3])
    scale1 = math.hypot(matrix[1], matrix[4])
    if scale0 == 0 or scale1 == 0:
        return 0, ()
    theta = float(round(math.degrees(math.atan2(matrix[1] / scale1, matrix[0] / scale0))))
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        return 90, ("transpose",) if matrix[3] > 0 else ("clock",)
    if abs(theta - 180) < 1:
        ops = (("hflip",) if matrix[0] < 0 else ()) + (("vflip",) if matrix[4] < 0 else ())
        return 180, ops
    if abs(theta - 270) < 1:
        return 270, ("antitranspose",) if matrix[3] < 0 else ("cclock",)
    if abs(theta) < 1 and matrix[4] < 0:
        return 0, ("vflip",)
    return 0, ()


def _apply(arr: NDArray[np.uint8], ops: tuple[str, ...]) -> NDArray[np.uint8]:
    for op in ops:
        if op == "clock":
            arr = np.rot90(arr, -1)
        elif op == "cclock":
            arr = np.rot90(arr, 1)
        elif op == "transpose":  # FFmpeg's cclock_flip
            arr = arr.swapaxes(0, 1)
        elif op == "antitranspose":  # FFmpeg's clock_flip
            arr = arr[::-1, ::-1].swapaxes(0, 1)
        elif op == "hflip":
            arr = arr[:, ::-1]
        elif op == "vflip":
            arr = arr[::-1]
    return arr


class Frames(dict[int, NDArray[np.uint8]]):
    """Converted frames by index, with the caller's destination array for some of them.

    A frame with a destination is converted straight into it (``batch_decode(out=...)``).
    """

    def __init__(self, into: dict[int, NDArray[np.uint8]] | None = None) -> None:
        super().__init__()
        self.into: dict[int, NDArray[np.uint8]] = into or {}


def destination(got: dict[int, NDArray[np.uint8]], f: int) -> NDArray[np.uint8] | None:
    """The caller's array that frame `f` goes into, if `got` is `Frames` that has one."""
    into = getattr(got, "into", None)
    return None if into is None else into.get(f)


class Converter:
    """Convert frames of one stream to 8-bit arrays, shown as the display matrix says.

    Full-range (``yuvj*`` or ``color_range=pc``) and limited-range sources are both
    mapped to full-range 8-bit RGB, using the frame's own colour matrix (BT.601 when the
    stream does not say); 10/12-bit sources are reduced to 8 bits by swscale.

    Args:
        ops: Array operations from `orientation`, applied after conversion.
    """

    def __init__(self, ops: tuple[str, ...] = ()) -> None:
        from av.video.reformatter import VideoReformatter

        self._reformatter = VideoReformatter()
        self._swscale: Into | None = None
        """Converts into the caller's arrays (`_swscale`), made on first need."""
        self._ops = ops
        # A quarter turn swaps the sides: swscale makes the frame as stored.
        self._turned = any(op in ("clock", "cclock", "transpose", "antitranspose") for op in ops)

    def __call__(
        self, frame: av.VideoFrame, out: Output, into: NDArray[np.uint8] | None = None
    ) -> NDArray[np.uint8]:
        """Return `frame` as `out` asks: ``(H, W, C)`` (gray ``(H, W)``) or ``(C, H, W)``.

        With `into` (a C-contiguous uint8 array of that shape), the frame is written there
        and `into` is returned.
        """
        if not self._ops and out.layout == "hwc":
            if into is not None:
                if self._into(frame, out, into):
                    _counters.add(frames_converted=1, frames_converted_in_place=1)
                    return into
            elif (out.format != "gray" or out.size is not None) and _swscale_into():
                # Straight into pooled memory too: one pass, no copy (a one-keyframe call on
                # 640x480 AV1 spent ~60 us of its ~1.7 ms copying the converted frame).
                owned = _buffers.take(out.shape(frame.height, frame.width))
                if self._into(frame, out, owned):
                    _counters.add(frames_converted=1)
                    return owned
        luma = _luma(frame) if out.format == "gray" and out.size is None else None
        arr = luma if luma is not None else self._reformat(frame, out)
        if self._ops:
            arr = _apply(arr, self._ops)
        if out.layout == "chw":
            # A view: the one copy below, into pooled memory, lays it out channels first.
            arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        # The caller gets pooled memory (no page faults); PyAV's frame is freed at once, so
        # the next conversion reuses its (warm) buffer.
        owned = into if into is not None else _buffers.take(arr.shape)
        np.copyto(owned, arr)
        _counters.add(frames_converted=1)
        return owned

    def _into(self, frame: av.VideoFrame, out: Output, into: NDArray[np.uint8]) -> bool:
        """Write `frame` straight into `into` (luma plane, or swscale); whether it could."""
        if out.format == "gray" and out.size is None:
            plane = _luma_plane(frame)
            if plane is None:
                return False
            y, full = plane
            if full:
                np.copyto(into, y)
            else:
                np.take(_LIMITED_TO_FULL, y, out=into)
            return True
        if self._swscale is None:
            from ._swscale import Into

            self._swscale = Into()
        same = into.shape[:2] == (frame.height, frame.width)
        return self._swscale.convert(
            frame,
            into,
            FORMATS[out.format],
            SWS_BILINEAR if same else SWS_AREA,  # what `_reformat` asks swscale for
            lambda: self._reformat(frame, out),
        )

    def _reformat(self, frame: av.VideoFrame, out: Output) -> NDArray[np.uint8]:
        scale: dict[str, Any] = {}
        if out.size is not None:
            h, w = out.size[::-1] if self._turned else out.size
            if (w, h) != (frame.width, frame.height):
                # The resize happens in the same swscale pass as the colour conversion, in
                # the reformatter's cached context for this size.
                scale = {"width": w, "height": h, "interpolation": "AREA"}
        src_range: Any = frame.color_range or None
        if frame.format.name.startswith("yuvj"):
            src_range = None  # swscale knows yuvj* is full range; an explicit range would clash
        converted = self._reformatter.reformat(
            frame,
            format=FORMATS[out.format],
            src_colorspace=frame.colorspace or None,
            src_color_range=src_range,
            dst_color_range="JPEG",
            threads=1,  # measured faster at these sizes, and no scaler threads to manage
            **scale,
        )
        arr: NDArray[np.uint8] = converted.to_ndarray()  # type: ignore[assignment]
        return arr


def _swscale_into() -> bool:
    """Whether swscale can convert into given arrays here.

    Else no pooled block is taken for it: the frame goes through ``reformat`` + copy.
    """
    from ._swscale import available

    return available()


# 8-bit planar YUV, whose first plane is the luma a gray frame is.
_PLANAR_8BIT = frozenset(
    {
        "yuv420p",
        "yuv422p",
        "yuv444p",
        "yuv440p",
        "yuv411p",
        "yuvj420p",
        "yuvj422p",
        "yuvj444p",
        "yuvj440p",
        "nv12",
        "nv21",
        "gray",
    }
)


def _luma(frame: av.VideoFrame) -> NDArray[np.uint8] | None:
    """The frame's luma plane as full-range gray, without swscale; `None` if not 8-bit YUV.

    Limited-range luma (16-235) is stretched to 0-255 through a table, as swscale's gray
    conversion does (within one level of rounding).
    """
    plane = _luma_plane(frame)
    if plane is None:
        return None
    y, full = plane
    if full:
        return y
    stretched: NDArray[np.uint8] = _LIMITED_TO_FULL[y]
    return stretched


def _luma_plane(frame: av.VideoFrame) -> tuple[NDArray[np.uint8], bool] | None:
    """The frame's luma plane (a view) and whether it is full range; `None` if not 8-bit YUV."""
    name = frame.format.name
    if name not in _PLANAR_8BIT:
        return None
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    y: NDArray[np.uint8] = rows[:, : plane.width]
    full = name.startswith("yuvj") or name == "gray" or int(frame.color_range or 0) == _JPEG
    return y, full


_JPEG = 2  # AVCOL_RANGE_JPEG: full range


_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
