"""``mediaref decode``: stream frames of a video, a list of times or a refs file to files.

Frames are decoded a chunk at a time (``--batch-size``) and written as soon as their
chunk is decoded, so memory stays bounded whatever the number of references; only a
contact sheet keeps its thumbnails until the end.
"""

from __future__ import annotations

import argparse
import hashlib
import posixpath
import re
import sys
import time
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ._errors import BackendNotInstalledError, MediaRefError, install_hint, short_uri
from ._ref import MediaRef
from ._uri import parse_uri

__all__ = ["UsageError", "add_decode_arguments", "output_name", "parse_time", "run_decode"]

_UNITS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_TIME = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(s|ms|us|ns)?")
_REF_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".msgpack": "msgpack",
    ".mpk": "msgpack",
    ".msgp": "msgpack",
}


class UsageError(Exception):
    """A bad command line: reported on one line, exit status 2."""


def parse_time(text: str) -> int:
    """Return the nanoseconds of ``"1500000000"``, ``"1.5s"``, ``"1500ms"``, ``"20us"``...

    A bare integer is nanoseconds; a number with a fraction needs a unit.

    Raises:
        UsageError: Not such a time, or not a whole number of nanoseconds.
    """
    m = _TIME.fullmatch(text.strip())
    if m is None:
        raise UsageError(f"not a time: {text!r} (write ns as an integer, or 1.5s, 1500ms, 20us)")
    number, unit = m.groups()
    if unit is None and not re.fullmatch(r"[+-]?\d+", number):
        raise UsageError(f"{text!r} needs a unit: {number}s, {number}ms, {number}us or {number}ns")
    try:
        ns = Decimal(number) * _UNITS[unit or "ns"]
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise UsageError(f"not a time: {text!r}") from None
    if ns != ns.to_integral_value():
        raise UsageError(f"{text!r} is not a whole number of nanoseconds")
    return int(ns)


def add_decode_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``mediaref decode``."""
    p.add_argument("uri", nargs="?", help="the video or image to decode (omit with --refs)")
    p.add_argument(
        "times",
        nargs="*",
        help="times to decode: integer ns (1500000000) or with a unit (1.5s, 1500ms, 20us); "
        "none: the image itself",
    )
    p.add_argument("--every", metavar="STEP", help="decode a frame every STEP (e.g. 0.5s)")
    p.add_argument(
        "--from",
        dest="start",
        metavar="TIME",
        help="with --every: first time (default: start of the video)",
    )
    p.add_argument(
        "--to",
        dest="stop",
        metavar="TIME",
        help="with --every: end, exclusive (default: end of the video)",
    )
    p.add_argument(
        "--refs",
        metavar="FILE",
        help="decode the references of a .parquet, .jsonl or .msgpack file",
    )
    p.add_argument(
        "--column", help="with --refs: the column holding the references, e.g. obs.image"
    )
    _add_output_arguments(p)


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    """Declare where and how ``mediaref decode`` writes frames."""
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="directory for one file per frame (default: . unless --sheet)",
    )
    p.add_argument(
        "--format",
        choices=("png", "jpeg", "npy"),
        default="png",
        help="file format of each frame (default: png)",
    )
    p.add_argument(
        "--sheet",
        metavar="FILE",
        help="write one contact sheet (a PNG grid of labelled thumbnails)",
    )
    p.add_argument(
        "--columns",
        type=int,
        metavar="N",
        help="thumbnails per row of the sheet (default: about square)",
    )
    p.add_argument(
        "--cell-width",
        type=int,
        metavar="PX",
        default=320,
        help="width of each thumbnail in the sheet (default: 320)",
    )
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="go on past failing references; list them at the end",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        default=64,
        help="references decoded per batch (default: 64)",
    )
    p.add_argument(
        "--decoder", metavar="NAME", help="backend to use, e.g. pyav (see: mediaref plugins)"
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show progress on stderr (default: when stderr is a terminal)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print each file written")


def _check(args: argparse.Namespace) -> None:
    """Refuse contradictory or impossible arguments before anything is decoded."""
    if args.refs is None and args.uri is None:
        raise UsageError("give a URI to decode, or --refs FILE")
    if args.refs is not None and (args.uri is not None or args.every is not None):
        raise UsageError("--refs takes no URI, times or --every")
    if args.refs is None and args.column is not None:
        raise UsageError("--column goes with --refs")
    if args.every is None and (args.start is not None or args.stop is not None):
        raise UsageError("--from and --to go with --every")
    if args.every is not None and args.times:
        raise UsageError("give times or --every, not both")
    for name in ("batch_size", "cell_width", "columns"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.output is None and args.sheet is None:
        args.output = "."
    if args.output is not None and Path(args.output).exists() and not Path(args.output).is_dir():
        raise UsageError(f"-o {args.output} is a file, not a directory")
    if args.sheet is not None:
        sheet = Path(args.sheet)
        if sheet.is_dir():
            raise UsageError(f"--sheet {args.sheet} is a directory, not a file")
        if not sheet.resolve().parent.is_dir():
            raise UsageError(f"--sheet {args.sheet}: no such directory {str(sheet.parent)!r}")
    if args.refs is not None and not Path(args.refs).is_file():
        raise UsageError(f"--refs {args.refs}: no such file")


def _references(args: argparse.Namespace) -> tuple[Iterator[Any], int | None]:
    """Return the items to decode (refs, None, or reading errors) and their count if known."""
    if args.refs is not None:
        return _refs_file(args.refs, args.column)
    if args.every is not None:
        step = parse_time(args.every)
        if step <= 0:
            raise UsageError(f"--every must be positive, got {args.every!r}")
        start, stop = _span(args)
        steps = range(start, stop, step)
        return (MediaRef(args.uri, t) for t in steps), len(steps)
    times = [parse_time(t) for t in args.times]
    if not times:
        return iter([MediaRef(args.uri)]), 1
    return iter([MediaRef(args.uri, t) for t in times]), len(times)


def _span(args: argparse.Namespace) -> tuple[int, int]:
    start = None if args.start is None else parse_time(args.start)
    stop = None if args.stop is None else parse_time(args.stop)
    if start is None or stop is None:
        from ._decode import open_video

        with open_video(args.uri, decoder=args.decoder) as video:
            meta = video.metadata
        start = meta.begin_ns if start is None else start
        stop = meta.end_ns if stop is None else stop
    return start, stop


def _refs_file(path: str, column: str | None) -> tuple[Iterator[Any], int | None]:
    from . import io

    kind = _REF_SUFFIXES.get(Path(path).suffix.lower())
    if kind is None:
        raise UsageError(f"--refs {path}: give a .parquet, .jsonl or .msgpack file")
    if kind == "jsonl":
        return io.read_jsonl(path, column=column, on_error="return"), None
    if kind == "msgpack":
        return io.read_msgpack(path, column=column, on_error="return"), None
    if column is None:
        raise UsageError("--column is needed with a Parquet file (e.g. --column obs.image)")
    from .arrow import import_pyarrow

    import_pyarrow()
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).metadata.num_rows
        return io.read_parquet(path, column=column, on_error="return"), rows
    except MediaRefError as e:  # no such column, or not references
        raise UsageError(f"--refs {path}: {e}") from None
    except OSError as e:  # pyarrow's ArrowInvalid is also a ValueError
        raise UsageError(f"--refs {path}: not a Parquet file ({e})") from None


def output_name(ref: MediaRef, ext: str) -> str:
    """Return the file name of a frame: its file's stem, a hash of the URI, and the pts.

    ``clip-3f2a9c01-1500000000.png``; images end in ``-image``. The hash (8 hex digits of
    the URI's SHA-1) keeps frames of different files with the same stem apart.
    """
    try:
        kind = parse_uri(ref.uri).kind if ref.uri else "path"
    except MediaRefError:
        kind = "other"
    base = "" if kind == "data" else ref.uri.split("?", 1)[0].split("#", 1)[0]
    stem = posixpath.splitext(posixpath.basename(base.replace("\\", "/")))[0]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:60] or kind
    digest = hashlib.sha1(ref.uri.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    when = "image" if ref.pts_ns is None else str(ref.pts_ns)
    return f"{stem}-{digest}-{when}.{ext}"


class _Files:
    """Writes each frame to its own file as soon as it is decoded."""

    def __init__(self, directory: str, fmt: str, verbose: bool) -> None:
        self.directory, self.fmt, self.verbose = Path(directory), fmt, verbose
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def write(self, ref: MediaRef, frame: Any) -> None:
        ext = {"png": "png", "jpeg": "jpg", "npy": "npy"}[self.fmt]
        path = self.directory / output_name(ref, ext)
        if self.fmt == "npy":
            import numpy as np

            np.save(path, frame)
        else:
            from ._decode import array_to_pil

            image = array_to_pil(frame, uri=ref.uri)
            image.save(path, **({"quality": 95} if self.fmt == "jpeg" else {}))
        self.count += 1
        if self.verbose:
            print(f"{ref.uri} @ {ref.pts_ns}: {frame.shape} -> {path}")

    def finish(self) -> str:
        files = "file" if self.count == 1 else "files"
        return f"wrote {self.count} {self.fmt} {files} to {self.directory}"


class _Sheet:
    """Keeps one thumbnail per frame (through mediaref-pil); draws the grid at the end."""

    def __init__(self, path: str, columns: int | None, cell_width: int) -> None:
        try:
            from mediaref_pil import ContactSheet
        except ImportError:
            raise BackendNotInstalledError(
                f"a contact sheet is drawn with Pillow; {install_hint('mediaref-pil')}"
            ) from None
        self.path = path
        self.sheet = ContactSheet(cell_width=cell_width, columns=columns)

    def write(self, ref: MediaRef, frame: Any) -> None:
        self.sheet.add(frame, _label_lines(ref))

    def finish(self) -> str:
        image = self.sheet.render()
        image.save(self.path)
        n, (w, h) = len(self.sheet), image.size
        return f"wrote a contact sheet of {n} frames ({w}x{h}) to {self.path}"


def _label_lines(ref: MediaRef) -> tuple[str, str]:
    if ref.pts_ns is None:
        return short_uri(ref.uri), "image"
    sign, ns = ("-" if ref.pts_ns < 0 else ""), abs(ref.pts_ns)
    return short_uri(ref.uri), f"{sign}{ns // 10**9}.{ns % 10**9:09d} s"  # exact


class _Progress:
    """A tqdm bar on stderr, or without tqdm a plain line every few seconds."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total, self.enabled, self.done, self.failed = total, enabled, 0, 0
        self.bar: Any = None
        self.last = time.monotonic()
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, unit="frame", file=sys.stderr, desc="mediaref decode")

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        if self.bar is not None:
            self.bar.update(1)
            if failed:
                self.bar.set_postfix(failed=self.failed)
        elif self.enabled and time.monotonic() - self.last >= 2.0:
            self.last = time.monotonic()
            self._line()

    def _line(self) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        print(f"mediaref decode: {self.done}{of} frames, {self.failed} failed", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            self._line()


def run_decode(args: argparse.Namespace) -> int:
    """Decode what the arguments ask, a chunk at a time, writing frames as they come.

    Returns:
        0 when every reference was decoded, 1 when some failed (with ``--keep-going``,
        listed on stderr at the end).

    Raises:
        UsageError: Bad arguments (exit status 2).
        MediaRefError: Without ``--keep-going``, the first failure (frames before it are
            written).
    """
    from .io import chunks

    _check(args)
    items, total = _references(args)
    writers: list[_Files | _Sheet] = []
    if args.output is not None:
        writers.append(_Files(args.output, args.format, args.verbose))
    if args.sheet is not None:
        writers.append(_Sheet(args.sheet, args.columns, args.cell_width))
    progress = _Progress(total, sys.stderr.isatty() if args.progress is None else args.progress)
    failures: list[BaseException] = []
    nulls = 0
    try:
        for chunk in chunks(items, args.batch_size):
            for ref, result in _decoded(chunk, args.decoder):
                failed = isinstance(result, MediaRefError)
                progress.update(failed)
                if result is None:
                    nulls += 1
                elif failed and not args.keep_going:
                    raise result
                elif failed:
                    failures.append(result)
                else:
                    for writer in writers:
                        writer.write(ref, result)
    finally:
        progress.close()
    for writer in writers:
        print(writer.finish())
    if nulls:
        print(f"{nulls} rows held no reference (null), skipped")
    _report(failures, progress.done)
    return 1 if failures else 0


def _decoded(chunk: list[Any], decoder: str | None) -> Iterator[tuple[Any, Any]]:
    """Pair each item of `chunk` with its frame, its error, or None for a null row."""
    from ._batch import batch_decode

    refs = [x for x in chunk if isinstance(x, MediaRef)]
    frames = iter(batch_decode(refs, decoder=decoder, on_error="return") if refs else ())
    for item in chunk:
        yield item, next(frames) if isinstance(item, MediaRef) else item


def _report(failures: list[BaseException], total: int, shown: int = 20) -> None:
    if not failures:
        return
    lines = [f"mediaref: {len(failures)} of {total} references failed:"]
    lines += [f"  {e}" for e in failures[:shown]]
    if len(failures) > shown:
        lines.append(f"  ... and {len(failures) - shown} more")
    print("\n".join(lines), file=sys.stderr)
