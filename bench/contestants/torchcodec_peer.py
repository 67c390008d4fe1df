"""TorchCodec CPU decoder: `VideoDecoder(path, seek_mode="exact").get_frames_played_at(seconds)`.

One decoder per file, kept across calls (a user's cache; constructing an exact-mode
decoder scans the file). ARG is ``num_ffmpeg_threads`` (TorchCodec's default is 1;
``0`` lets FFmpeg choose). Frames are returned as zero-copy NHWC numpy views.
"""

from __future__ import annotations

from typing import Any

from _common import Item, per_file, versions


class Adapter:
    def __init__(self, threads: str = "1") -> None:
        from torchcodec.decoders import VideoDecoder

        self.VideoDecoder = VideoDecoder
        self.threads = int(threads)
        self.decoders: dict[str, Any] = {}
        self.label = f"TorchCodec (exact, threads={self.threads or 'auto'})"

    def versions(self) -> dict[str, str]:
        return versions("torch", "torchcodec", "numpy")

    def _dec(self, path: str) -> Any:
        d = self.decoders.get(path)
        if d is None:
            d = self.VideoDecoder(
                path, seek_mode="exact", dimension_order="NHWC", num_ffmpeg_threads=self.threads
            )
            self.decoders[path] = d
        return d

    def video_call(self, files: list[str], items: list[Item]) -> list[Any]:
        if len(items) == 1:
            fi, t, _ = items[0]
            return [self._dec(files[fi]).get_frame_played_at(seconds=t / 1e9).data.numpy()]

        def decode(fi: int, its: list[Item]) -> list[Any]:
            batch = self._dec(files[fi]).get_frames_played_at(seconds=[t / 1e9 for _, t, _ in its])
            data = batch.data.numpy()
            return [data[k] for k in range(len(its))]

        return per_file(items, decode)
