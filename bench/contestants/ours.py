"""Our library: `batch_decode(refs)` for multi-frame calls, `MediaRef.to_ndarray()` for one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from _common import Item, msgspec_serialization, versions

COUNTER_KEYS = (
    "frames_decoded",
    "frames_converted",
    "frames_skipped",
    "seeks",
    "index_hits",
    "index_misses",
    "containers_opened",
)


def _as_dict(snap: Any) -> dict[str, Any]:
    if isinstance(snap, dict):
        return {k: v for k, v in snap.items() if isinstance(v, (int, float))}
    try:
        import msgspec

        return {
            k: v for k, v in msgspec.structs.asdict(snap).items() if isinstance(v, (int, float))
        }
    except Exception:
        pass
    try:
        import dataclasses

        return {k: v for k, v in dataclasses.asdict(snap).items() if isinstance(v, (int, float))}
    except Exception:
        pass
    if hasattr(snap, "_asdict"):
        return dict(snap._asdict())
    return {k: getattr(snap, k) for k in COUNTER_KEYS if hasattr(snap, k)}


class Adapter:
    """``Adapter("iter")``: the calls of a job as one stream through ``iter_decode``."""

    label = "mediaref (ours)"

    def __init__(self, mode: str | None = None) -> None:
        import mediaref

        if mode == "iter":
            self.label = "mediaref (ours), iter_decode(ahead=1)"
            self.video_stream = self._stream

        self.mr = mediaref
        try:
            import mediaref_av
        except Exception:  # the plugin may not exist yet
            mediaref_av = None
        self.av = mediaref_av
        if mediaref_av is not None and hasattr(mediaref_av, "counters"):
            self.counters = self._counters
            self.reset_counters = self._reset
        if mediaref_av is not None and hasattr(mediaref_av, "minimal_frames"):
            self.minimal_frames = self._minimal

    def versions(self) -> dict[str, str]:
        v = versions(
            "mediaref-core",
            "mediaref-av",
            "mediaref-pil",
            "av",
            "pillow",
            "numpy",
            "msgspec",
            "pluggy",
        )
        try:
            v["plugins"] = (
                ", ".join(f"{p.name}" for p in self.mr.plugins())
                if hasattr(self.mr, "plugins")
                else ""
            )
        except Exception as e:
            v["plugins"] = f"error: {e}"
        return v

    def _counters(self) -> dict[str, Any]:
        return _as_dict(self.av.counters())

    def _reset(self) -> None:
        if hasattr(self.av, "reset_counters"):
            self.av.reset_counters()

    def _minimal(self, files: list[str], items: list[Item]) -> int:
        by: dict[int, list[int]] = {}
        for fi, t, _ in items:
            by.setdefault(fi, []).append(t)
        return sum(int(self.av.minimal_frames(files[fi], ts)) for fi, ts in by.items())

    def video_call(self, files: list[str], items: list[Item]) -> list[Any]:
        MediaRef = self.mr.MediaRef
        if len(items) == 1:
            fi, t, _ = items[0]
            return [MediaRef(uri=files[fi], pts_ns=t).to_ndarray()]
        return self.mr.batch_decode([MediaRef(uri=files[fi], pts_ns=t) for fi, t, _ in items])

    def _stream(self, files: list[str], calls: list[list[Item]]) -> Iterator[list[Any]]:
        """One result per call, in order; the next call decodes while this one is checked."""
        MediaRef = self.mr.MediaRef
        requests = ([MediaRef(uri=files[fi], pts_ns=t) for fi, t, _ in c] for c in calls)
        return self.mr.iter_decode(requests, ahead=1)

    def images(self, paths: list[str]) -> list[Any]:
        MediaRef = self.mr.MediaRef
        return self.mr.batch_decode([MediaRef(uri=p) for p in paths])

    def serialization(self, n: int, reps: int) -> dict[str, Any]:
        return msgspec_serialization(self.mr.MediaRef, n, reps)
