"""``mediaref demo``: make a small video and image, reference them, decode them."""

from __future__ import annotations

from pathlib import Path

from ._batch import batch_decode
from ._datauri import DataURI
from ._decode import open_video
from ._errors import BackendNotInstalledError, install_hint
from ._ref import MediaRef

__all__ = ["run_demo"]


def _make_video(path: Path, frames: int, fps: int) -> None:
    # The conformance kit owns the PyAV recipes; the demo borrows one.
    from .testing import encode, have_encoder

    try:
        ready = have_encoder("libx264")
    except ImportError:  # no PyAV
        ready = False
    if not ready:
        raise BackendNotInstalledError(
            f"the demo encodes a sample video with PyAV's libx264; {install_hint('mediaref-av')}"
        )
    encode(path, "libx264", n=frames, rate=fps, size=(320, 180))


def run_demo(workdir: Path) -> None:
    """Write sample media under `workdir` and print each step."""
    import numpy as np

    workdir.mkdir(parents=True, exist_ok=True)
    video = workdir / "sample.mp4"
    fps, n = 20, 100
    _make_video(video, n, fps)
    print(f"made {video} ({n} frames at {fps} fps, H.264)")
    with open_video(str(video)) as v:
        print(f"metadata: {v.metadata}")
    step = 1_000_000_000 // fps
    refs = [MediaRef(str(video), pts_ns=k * step * 7) for k in range(n // 7)]
    print(
        f"{len(refs)} references, e.g. {refs[1]!r} -> {len(refs[1].model_dump_json())} bytes JSON"
    )
    frames = batch_decode(refs)
    print(f"batch_decode: {len(frames)} frames of shape {frames[0].shape}, dtype {frames[0].dtype}")
    image = np.asarray(frames[3])
    data_uri = DataURI.from_image(image, format="png")
    embedded = MediaRef(uri=data_uri.uri)
    print(f"embedded frame 21 as a {data_uri.mimetype} data URI of {len(data_uri)} chars")
    same = np.array_equal(embedded.to_ndarray(), image)
    print(f"decoded the data URI back: identical pixels = {same}")
    png = workdir / "frame.png"
    png.write_bytes(data_uri.decoded_data)
    shape = MediaRef(str(png)).to_ndarray().shape
    print(f"wrote {png}; MediaRef({str(png)!r}).to_ndarray().shape = {shape}")
