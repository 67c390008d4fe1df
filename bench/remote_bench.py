"""Bytes and requests that remote reads cost, over a real HTTP server on loopback.

Media (made once into bench/.cache/remote): 640x360 20 fps, 5 minutes, content from
bench/media.py: H.264 (x264 preset fast, GOP 40 = 2 s, B-frames) in MP4 with the moov
first (faststart) and at the end, and HEVC (x265 ultrafast, GOP 40) in MKV.

Workloads, each from cold caches (a new process's view: no index, no open container):
  open       open the video (index), no frame
  1 frame    one frame at 150 s
  32 consec  32 consecutive frames from 120 s, one call
  64 random  64 random frames (seed 7), one call
  1 frame, 20 ms   one frame at 150 s with 20 ms added to every request (time to first frame)
"plan bytes" is what the decoding plan's runs span in the file (coalesced), from the
local index: a lower bound for what any reader of these frames must fetch after the header.
Every returned frame is compared with the local decode of the same file.

With --s3, the same workloads read the files from moto's S3 server on loopback through
s3fs and mediaref-fsspec, behind a counting TCP proxy (bytes are everything the server
sent: headers and bodies; requests are the GETs the client sent).

With --peers, the same workloads (not "open") are also run by PyPI mediaref 2.1 (its
fsspec path, default TensorCodec decoder; venv bench/.venvs/pypi_mediaref) and TorchCodec
0.13 on a file object from fsspec.open (its default seek_mode exact; ``--peers
torchcodec_approx`` adds approximate; venv bench/.venvs/torchcodec), each call in its own
process (bench/remote_peers.py), counted by the same server, their frames compared with the
local decode too.

Run: python bench/remote_bench.py [--s3] [--peers[=A,B]] [--media MKV] [--json OUT]. To
measure another tree's code, put its sources first on PYTHONPATH (the server and media
come from this directory).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from media import FPS, H, W, make_frame, texture  # noqa: E402
from tests.httpserver import serve  # noqa: E402

SECONDS = 300
CACHE = HERE / ".cache" / "remote"


def _encode(path: Path, codec: str, options: dict[str, str]) -> None:
    import av

    tmp = path.with_suffix(".part" + path.suffix)
    tex = texture(11)
    with av.open(str(tmp), "w") as out:
        s = out.add_stream(codec, rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = dict(options)
        for i in range(SECONDS * FPS):
            frame = av.VideoFrame.from_ndarray(make_frame(tex, i), format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    tmp.replace(path)


def media(only: str = "") -> dict[str, Path]:
    """The media, made once; `only`: just those whose label contains it (e.g. ``MKV``)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tail, fast, hevc = CACHE / "h264_tail.mp4", CACHE / "h264_faststart.mp4", CACHE / "hevc.mkv"
    labels = {"H.264 MP4, faststart": fast, "H.264 MP4, moov at end": tail, "HEVC MKV": hevc}
    if only:
        labels = {k: v for k, v in labels.items() if only in k}
    if tail in labels.values() or fast in labels.values():
        _make_h264(tail, fast)
    if hevc in labels.values() and not hevc.exists():
        x265 = {"preset": "ultrafast", "x265-params": "keyint=40:min-keyint=40:log-level=error"}
        _encode(hevc, "libx265", x265)
    return labels


def _make_h264(tail: Path, fast: Path) -> None:
    if not tail.exists():
        x264 = {"preset": "fast", "x264-params": "keyint=40:min-keyint=40:scenecut=0"}
        _encode(tail, "libx264", x264)
    if not fast.exists():
        cmd = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(tail), "-c", "copy"]
        subprocess.run([*cmd, "-movflags", "+faststart", str(fast)], check=True)


def workloads(begin_ns: int, end_ns: int, frame_ns: int) -> dict[str, list[int]]:
    rnd = random.Random(7)
    at = begin_ns + 150 * 10**9
    start = begin_ns + 120 * 10**9
    return {
        "open": [],
        "1 frame": [at],
        "32 consec": [start + i * frame_ns for i in range(32)],
        "64 random": sorted(rnd.randrange(begin_ns, end_ns) for _ in range(64)),
        "1 frame, 20 ms": [at],
    }


def plan_bytes(local: Path, times: list[int]) -> int | None:
    """Bytes the plan's runs span (coalesced), from the local index; None if unknown."""
    import mediaref_av

    try:
        from mediaref_av._blockfile import coalesce
        from mediaref_av._plan import plan
    except ImportError:  # an older tree
        return None
    with mediaref_av.open(str(local)) as video:
        idx = video.index
        if not times or getattr(idx, "pos", None) is None:
            return 0 if not times else None
        runs = plan(idx, video.frame_indices(times))
        ranges = [(a, b - 16 * 1024) for a, b in idx.byte_ranges(runs)]
    return sum(b - a for a, b in coalesce(ranges, gap=0))


class CountingProxy:
    """A TCP proxy on loopback that counts what the server sends and the GETs it is sent."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket
        import threading

        self.target, self.bytes, self.requests, self.delay_s = target, 0, 0, 0.0
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.bytes = self.requests = 0

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            client, _ = self._sock.accept()
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, src: object, dst: object, upstream: bool) -> None:
        try:
            while True:
                data = src.recv(1 << 16)  # type: ignore[attr-defined]
                if not data:
                    break
                with self._lock:
                    if upstream:
                        self.requests += data.count(b"GET /") + data.count(b"HEAD /")
                    else:
                        self.bytes += len(data)
                if upstream and self.delay_s:
                    time.sleep(self.delay_s)
                dst.sendall(data)  # type: ignore[attr-defined]
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.close()  # type: ignore[attr-defined]


def run_one(
    url: str, local: Path, times: list[int], options: dict[str, object] | None = None
) -> dict[str, object]:
    import mediaref_av
    from mediaref import MediaRef, batch_decode

    mediaref_av.clear_caches()
    options = options or {}
    t0 = time.perf_counter()
    if times:
        frames = batch_decode([MediaRef(url, t) for t in times], **options)
    else:
        from mediaref import open_source

        opts = dict(options)
        source = open_source(url, **{k: opts.pop(k) for k in ["storage_options"] if k in opts})
        with mediaref_av.AVVideoDecoder(source, **opts):
            frames = []
    seconds = time.perf_counter() - t0
    mediaref_av.clear_caches()
    for got, want in zip(frames, expected_frames(local, times) if times else [], strict=True):
        np.testing.assert_array_equal(got, want)
    return {"seconds": round(seconds, 3), "exact": f"{len(frames)}/{len(times)}"}


PEERS = {
    "pypi_mediaref": "pypi_mediaref",
    "torchcodec": "torchcodec",
    "torchcodec_approx": "torchcodec",
}
"""Peer contestant -> its venv in bench/.venvs."""


def expected_frames(local: Path, times: list[int]) -> list[np.ndarray]:
    import mediaref_av

    with mediaref_av.open(str(local)) as video:
        return video.frames_played_at(times)


def run_peer(
    peer: str, uri: str, local: Path, times: list[int], options: dict[str, object]
) -> dict[str, object]:
    """Run one workload in the peer's venv; its seconds, and how many frames were exact."""
    import tempfile

    python = HERE / ".venvs" / PEERS[peer] / "bin" / "python"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "frames.npy"
        args = [str(python), str(HERE / "remote_peers.py"), peer, uri, json.dumps(times)]
        done = subprocess.run(
            [*args, json.dumps(options), str(out)], capture_output=True, text=True, timeout=900
        )
        if done.returncode:
            return {"seconds": None, "error": done.stderr.strip().splitlines()[-1][:200]}
        result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        frames = np.load(out)
    want = expected_frames(local, times)
    same = [
        got.shape == w.shape and bool(np.array_equal(got, w))
        for got, w in zip(frames, want, strict=True)
    ]
    result["exact"] = f"{sum(same)}/{len(same)}"
    return result


def run_s3(files: dict[str, Path], peers: list[str]) -> list[dict[str, object]]:
    import s3fs
    from moto.server import ThreadedMotoServer

    import mediaref_av

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    proxy = CountingProxy(moto.get_host_and_port())
    options = {
        "key": "bench",
        "secret": "bench",
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{proxy.port}"},
    }
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    fs.mkdir("media")
    rows = []
    for label, path in files.items():
        fs.put_file(str(path), f"media/{path.name}")
        with mediaref_av.open(str(path)) as video:
            md = video.metadata
        for name, times in workloads(md.begin_ns, md.end_ns, 10**9 // FPS).items():
            from mediaref_fsspec import clear_filesystems

            clear_filesystems()  # a cold process: new connections
            proxy.reset()
            proxy.delay_s = 0.02 if "20 ms" in name else 0.0
            uri = f"s3://media/{path.name}"
            result = run_one(uri, path, times, {"storage_options": options})
            proxy.delay_s = 0.0
            rows.append(_row("S3 " + label, path, name, proxy.bytes, proxy.requests, result))
            for peer in peers if times else []:
                proxy.reset()
                proxy.delay_s = 0.02 if "20 ms" in name else 0.0
                result = run_peer(peer, uri, path, times, options)
                proxy.delay_s = 0.0
                row = _row("S3 " + label, path, name, proxy.bytes, proxy.requests, result, peer)
                rows.append(row)
    moto.stop()
    return rows


def _row(
    label: str,
    path: Path,
    name: str,
    sent: int,
    requests: int,
    result: dict,
    contestant: str = "ours",
) -> dict:
    row = {
        "contestant": contestant,
        "media": label,
        "size": path.stat().st_size,
        "workload": name,
        "bytes": sent,
        "requests": requests,
        **result,
    }
    seconds = row["seconds"]
    print(
        f"{contestant:17} {label:28} {name:15} {sent:>11,} B {requests:>5} req "
        f"({sent / row['size']:.3f} of {row['size']:,} B) "
        f"{'-' if seconds is None else f'{seconds:.2f}'} s {row.get('exact', '')} "
        f"{row.get('error', '')}",
        flush=True,
    )
    return row


def run_prebuilt(files: dict[str, Path]) -> list[dict[str, object]]:
    """The workloads with the index prebuilt into a directory (``index_cache=``), as
    ``mediaref index URI --out DIR`` leaves it: readers pay the identity probe, the
    container's header and their frames' ranges, also where the index needs a full scan."""
    import tempfile

    import mediaref_av

    rows = []
    with serve(CACHE) as server, tempfile.TemporaryDirectory() as shared:
        for label, path in files.items():
            url = server.url(f"files/{path.name}")
            with mediaref_av.open(url, index_cache=shared):
                pass  # builds and writes the index (the prebuild, not counted)
            with mediaref_av.open(str(path)) as video:
                md = video.metadata
            for name, times in workloads(md.begin_ns, md.end_ns, 10**9 // FPS).items():
                server.counters.reset()
                server.counters.delay_s = 0.02 if "20 ms" in name else 0.0
                result = run_one(url, path, times, {"index_cache": shared})
                server.counters.delay_s = 0.0
                c = server.counters
                rows.append(_row(label, path, name, c.bytes, c.requests, result, "ours, prebuilt"))
    return rows


def main() -> None:
    import mediaref_av

    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    parser.add_argument("--s3", action="store_true")
    parser.add_argument("--media", default="", help="only the media whose label has this")
    parser.add_argument(
        "--peers",
        nargs="?",
        const="pypi_mediaref,torchcodec",
        default="",
        help=f"also these peers, comma-separated (of {', '.join(PEERS)}; default: the first two)",
    )
    parser.add_argument(
        "--prebuilt",
        action="store_true",
        help="ours only, over HTTP, readers given an index prebuilt into a shared directory",
    )
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    if args.prebuilt:
        rows = run_prebuilt(media(args.media))
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        return
    files = media(args.media)
    rows = []
    if args.s3:
        rows = run_s3(files, peers)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        return
    with serve(CACHE) as server:
        for label, path in files.items():
            with mediaref_av.open(str(path)) as video:
                md = video.metadata
            frame_ns = 10**9 // FPS
            for name, times in workloads(md.begin_ns, md.end_ns, frame_ns).items():
                server.counters.reset()
                server.counters.delay_s = 0.02 if "20 ms" in name else 0.0
                result = run_one(server.url(f"files/{path.name}"), path, times)
                server.counters.delay_s = 0.0
                result["plan_bytes"] = plan_bytes(path, times)
                c = server.counters
                rows.append(_row(label, path, name, c.bytes, c.requests, result))
                for peer in peers if times else []:
                    c.reset()
                    c.delay_s = 0.02 if "20 ms" in name else 0.0
                    result = run_peer(peer, server.url(f"files/{path.name}"), path, times, {})
                    c.delay_s = 0.0
                    rows.append(_row(label, path, name, c.bytes, c.requests, result, peer))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
