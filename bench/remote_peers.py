"""A peer's remote read, run in the peer's own venv by remote_bench.py (one process per call).

    python remote_peers.py CONTESTANT URI TIMES_JSON OPTIONS_JSON OUT.npy

CONTESTANT is ``pypi_mediaref`` (PyPI mediaref 2.1: ``batch_decode`` with
``storage_options``, its default TensorCodec decoder on the file fsspec opens) or
``torchcodec`` / ``torchcodec_approx`` (TorchCodec 0.13's ``VideoDecoder`` on a file
object from ``fsspec.open``, ``seek_mode`` exact / approximate). Writes the frames as one
``(N, H, W, 3)`` uint8 array and prints the seconds from the call to the last frame
(imports excluded) as JSON.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def pypi_mediaref(uri: str, times: list[int], options: dict[str, object]) -> list[np.ndarray]:
    from mediaref import MediaRef, batch_decode

    refs = [MediaRef(uri=uri, pts_ns=t) for t in times]
    return [np.asarray(f) for f in batch_decode(refs, storage_options=options)]


def torchcodec(
    uri: str, times: list[int], options: dict[str, object], seek_mode: str
) -> list[np.ndarray]:
    import fsspec
    from torchcodec.decoders import VideoDecoder

    with fsspec.open(uri, "rb", **options) as f:
        decoder = VideoDecoder(f, seek_mode=seek_mode)
        batch = decoder.get_frames_played_at(seconds=[t / 1e9 for t in times])
        return list(batch.data.permute(0, 2, 3, 1).numpy())


def main() -> None:
    contestant, uri, times_json, options_json, out = sys.argv[1:6]
    times, options = json.loads(times_json), json.loads(options_json)
    t0 = time.perf_counter()
    if contestant == "pypi_mediaref":
        frames = pypi_mediaref(uri, times, options)
    elif contestant == "torchcodec":
        frames = torchcodec(uri, times, options, "exact")
    elif contestant == "torchcodec_approx":
        frames = torchcodec(uri, times, options, "approximate")
    else:
        raise SystemExit(f"unknown contestant {contestant!r}")
    seconds = time.perf_counter() - t0
    np.save(out, np.stack(frames))
    print(json.dumps({"seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main()
