"""References to the frames of a LeRobot v3 dataset's videos, and back.

A LeRobot v3 dataset keeps the episodes of one camera concatenated in MP4 shards
(``videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4``, the template in
``meta/info.json``); each episode starts at ``videos/{video_key}/from_timestamp`` seconds
in its shard (``meta/episodes/*/*.parquet``), and its frames have ``timestamp`` = frame
index / ``fps`` seconds. LeRobot decodes the frame of ``(episode, timestamp)`` as the frame
of the shard whose pts is nearest to ``from_timestamp + timestamp`` and refuses it unless
that distance is at most ``tolerance_s`` (1e-4 s): see ``decode_video_frames`` in
``lerobot/datasets/video_utils.py``.

The rule here (`frame_pts_ns`): frame ``k`` of an episode is referenced at the middle of its
nominal interval on the shard's timeline,
``pts_ns = round((from_timestamp + (k + 1/2) / fps) * 1e9)``, computed exactly from the
float seconds. A frame that LeRobot accepts has its pts within
``tolerance_s`` of ``from_timestamp + k / fps``, so it is on screen (mediaref's played-at
rule) from at most ``tolerance_s`` after its nominal start until the next frame, at most
``tolerance_s`` after ``(k + 1) / fps``: the middle is inside for any frame rate below
``1 / (2 * tolerance_s)`` = 5,000 frames/s, whatever the rounding of the container's time
base. Every reference to a frame is the same reference, and `LeRobotVideos.locate` maps it
back to ``(episode, frame index, timestamp)``.

Nothing of LeRobot is imported; reading ``meta/episodes`` needs ``pyarrow``.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import posixpath
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec

from ._errors import BackendNotInstalledError, InvalidReferenceError
from ._ref import MediaRef

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "EpisodeVideo",
    "FrameLocation",
    "LeRobotVideos",
    "frame_index_at",
    "frame_pts_ns",
]

NS_PER_S = 1_000_000_000
DEFAULT_TOLERANCE_S = 1e-4
"""LeRobot's default ``tolerance_s``: how far a frame's pts may be from the time asked."""


def _fps(fps: float) -> Fraction:
    value = Fraction(str(fps)) if isinstance(fps, float) else Fraction(fps)
    if value <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    return value


def frame_pts_ns(from_timestamp: float, frame_index: int, fps: float) -> int:
    """Return the `pts_ns` that references frame `frame_index` of an episode.

    The middle of the frame's nominal interval on the shard's timeline (see the module's
    docstring), ``round((from_timestamp + (frame_index + 1/2) / fps) * 1e9)``, computed
    exactly from the float's value (float products lose ns long before 2**63 ns).

    Args:
        from_timestamp: The episode's start in its shard, seconds
            (``videos/{video_key}/from_timestamp``).
        frame_index: The frame's index in the episode, from 0.
        fps: The dataset's frame rate (``meta/info.json``).
    """
    middle = Fraction(from_timestamp) + (frame_index + Fraction(1, 2)) / _fps(fps)
    return round(middle * NS_PER_S)


def frame_index_at(pts_ns: int, from_timestamp: float, fps: float) -> int:
    """Return the index of the episode's frame on screen at `pts_ns` (may be out of range).

    The inverse of `frame_pts_ns`: ``floor((pts_ns / 1e9 - from_timestamp) * fps)``, exact.
    """
    return math.floor((Fraction(pts_ns, NS_PER_S) - Fraction(from_timestamp)) * _fps(fps))


class EpisodeVideo(msgspec.Struct, frozen=True):
    """Where one episode's frames of one camera are: a shard and a start in it."""

    episode_index: int
    video_key: str
    chunk_index: int
    file_index: int
    from_timestamp: float
    """Seconds from the shard's start to the episode's first frame."""
    to_timestamp: float
    length: int
    """The episode's number of frames."""


class FrameLocation(msgspec.Struct, frozen=True):
    """A frame of a LeRobot dataset as LeRobot indexes it."""

    episode_index: int
    video_key: str
    frame_index: int
    """The frame's index in its episode (``frame_index`` of the data parquet)."""
    timestamp: float
    """``frame_index / fps`` seconds, the ``timestamp`` column of the data parquet."""


class LeRobotVideos:
    """The videos of a LeRobot v3 dataset: references to their frames, and back.

    Build it with `from_root` (reads ``meta/info.json`` and ``meta/episodes``), or from
    ``info`` and episode rows already loaded.

    Args:
        root: The dataset's root, prefixed to every reference's URI (as given: a relative
            root gives relative URIs).
        info: The content of ``meta/info.json`` (``fps``, ``video_path``, ``features``).
        episodes: Rows of ``meta/episodes`` (``episode_index``, ``length`` and, for each
            video key, ``videos/{key}/chunk_index``, ``file_index``, ``from_timestamp``,
            ``to_timestamp``).
        tolerance_s: LeRobot's tolerance: timestamps farther than this from a frame are
            refused, as LeRobot refuses them.

    Raises:
        ValueError: `info` is not a v3 dataset's, or an episode row lacks a field.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        info: Mapping[str, Any],
        episodes: Iterable[Mapping[str, Any]],
        *,
        tolerance_s: float = DEFAULT_TOLERANCE_S,
    ) -> None:
        version = str(info.get("codebase_version", ""))
        if not version.startswith("v3"):
            raise ValueError(
                f"only LeRobot v3 datasets are supported, got codebase_version {version!r}"
            )
        self.root = os.fspath(root)
        self.fps: int | float = info["fps"]
        self.video_path: str = info["video_path"]
        self.tolerance_s = tolerance_s
        features = info.get("features", {})
        self.video_keys = tuple(k for k, f in features.items() if f.get("dtype") == "video")
        self._episodes: dict[tuple[int, str], EpisodeVideo] = {}
        for row in episodes:
            for key in self.video_keys:
                self._episodes[row["episode_index"], key] = _episode_video(row, key)
        self._shards = _shard_index(self._episodes.values())
        self._pattern = _template_regex(self.video_path)

    @classmethod
    def from_root(
        cls, root: str | os.PathLike[str], *, tolerance_s: float = DEFAULT_TOLERANCE_S
    ) -> LeRobotVideos:
        """Read ``meta/info.json`` and every ``meta/episodes/**/*.parquet`` under `root`.

        Raises:
            BackendNotInstalledError: ``pyarrow`` is not installed.
            FileNotFoundError: `root` has no ``meta/info.json``.
        """
        meta = Path(root) / "meta"
        info = json.loads((meta / "info.json").read_text())
        return cls(root, info, _read_episode_rows(meta / "episodes"), tolerance_s=tolerance_s)

    def episode(self, episode_index: int, video_key: str) -> EpisodeVideo:
        """Return where `episode_index`'s frames of `video_key` are.

        Raises:
            KeyError: No such episode or video key.
        """
        try:
            return self._episodes[episode_index, video_key]
        except KeyError:
            raise KeyError(
                f"no episode {episode_index} with video {video_key!r} "
                f"(video keys: {list(self.video_keys)})"
            ) from None

    def uri(self, episode_index: int, video_key: str) -> str:
        """Return the URI of the shard that holds the episode's frames of `video_key`."""
        ep = self.episode(episode_index, video_key)
        relative = self.video_path.format(
            video_key=video_key, chunk_index=ep.chunk_index, file_index=ep.file_index
        )
        return posixpath.join(self.root, relative) if self.root else relative

    def ref(self, episode_index: int, video_key: str, timestamp: float) -> MediaRef:
        """Return the reference to the frame LeRobot returns for `timestamp` in the episode.

        Args:
            episode_index: The episode.
            video_key: The camera (``observation.images.top``...).
            timestamp: Seconds from the episode's start (the data parquet's ``timestamp``).

        Raises:
            InvalidReferenceError: `timestamp` is farther than `tolerance_s` from every
                frame of the episode (LeRobot raises ``FrameTimestampError`` there).
        """
        ep = self.episode(episode_index, video_key)
        rate = _fps(self.fps)
        index = round(Fraction(timestamp) * rate)
        if not 0 <= index < ep.length:
            last = float((ep.length - 1) / rate)
            raise InvalidReferenceError(
                f"timestamp {timestamp!r} s is outside episode {episode_index}: its "
                f"{ep.length} frames at {self.fps} fps are at [0, {last:.6g}] s"
            )
        off = abs(Fraction(timestamp) - index / rate)
        if off > Fraction(self.tolerance_s):
            raise InvalidReferenceError(
                f"timestamp {timestamp!r} s of episode {episode_index} is {float(off):.6g} s "
                f"from its nearest frame {index} at {self.fps} fps; "
                f"LeRobot's tolerance_s is {self.tolerance_s}"
            )
        return MediaRef(
            self.uri(episode_index, video_key), frame_pts_ns(ep.from_timestamp, index, self.fps)
        )

    def refs(
        self, episode_index: int, video_key: str, timestamps: Sequence[float] | None = None
    ) -> list[MediaRef]:
        """Return references to the frames at `timestamps`, or to every frame of the episode.

        Raises:
            InvalidReferenceError: A timestamp LeRobot would refuse (see `ref`).
        """
        ep = self.episode(episode_index, video_key)
        if timestamps is None:
            uri = self.uri(episode_index, video_key)
            return [
                MediaRef(uri, frame_pts_ns(ep.from_timestamp, k, self.fps))
                for k in range(ep.length)
            ]
        return [self.ref(episode_index, video_key, t) for t in timestamps]

    def locate(self, ref: MediaRef) -> FrameLocation:
        """Return the episode, frame index and timestamp of the frame `ref` shows.

        Raises:
            InvalidReferenceError: `ref` is not a frame of this dataset's videos.
        """
        shard = self._shard_of(ref)
        starts = [Fraction(ep.from_timestamp) * NS_PER_S for ep in shard]
        if ref.pts_ns is not None:
            at = bisect.bisect_right(starts, ref.pts_ns) - 1
            if at >= 0:
                ep = shard[at]
                index = frame_index_at(ref.pts_ns, ep.from_timestamp, self.fps)
                if index < ep.length:
                    timestamp = float(index / _fps(self.fps))
                    return FrameLocation(ep.episode_index, ep.video_key, index, timestamp)
        raise InvalidReferenceError("no episode has a frame there", uri=ref.uri, pts_ns=ref.pts_ns)

    def _shard_of(self, ref: MediaRef) -> list[EpisodeVideo]:
        uri = ref.uri.replace(os.sep, "/")
        match = self._pattern.search(uri)
        if match is None:
            raise InvalidReferenceError(
                f"not a video of this LeRobot dataset (template {self.video_path!r})",
                uri=ref.uri,
                pts_ns=ref.pts_ns,
            )
        key = (match["video_key"], int(match["chunk_index"]), int(match["file_index"]))
        return self._shards.get(key, [])


def _episode_video(row: Mapping[str, Any], key: str) -> EpisodeVideo:
    prefix = f"videos/{key}/"
    try:
        return EpisodeVideo(
            episode_index=int(row["episode_index"]),
            video_key=key,
            chunk_index=int(row[prefix + "chunk_index"]),
            file_index=int(row[prefix + "file_index"]),
            from_timestamp=float(row[prefix + "from_timestamp"]),
            to_timestamp=float(row[prefix + "to_timestamp"]),
            length=int(row["length"]),
        )
    except KeyError as e:
        raise ValueError(f"an episode row lacks {e.args[0]!r}: {dict(row)!r}") from None


def _shard_index(
    episodes: Iterable[EpisodeVideo],
) -> dict[tuple[str, int, int], list[EpisodeVideo]]:
    shards: dict[tuple[str, int, int], list[EpisodeVideo]] = {}
    for ep in episodes:
        shards.setdefault((ep.video_key, ep.chunk_index, ep.file_index), []).append(ep)
    for eps in shards.values():
        eps.sort(key=lambda ep: ep.from_timestamp)
    return shards


def _template_regex(template: str) -> re.Pattern[str]:
    # videos/{video_key}/chunk-{chunk_index:03d}/... -> a regex matching a URI's tail.
    parts = ["(?:^|/)"]
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name == "video_key":
            parts.append(r"(?P<video_key>.+?)")
        elif name:
            parts.append(rf"(?P<{name}>\d+)")
    return re.compile("".join(parts) + "$")


def _read_episode_rows(directory: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BackendNotInstalledError(
            "reading meta/episodes needs pyarrow; install it with: pip install pyarrow"
        ) from None
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.glob("**/*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return rows
