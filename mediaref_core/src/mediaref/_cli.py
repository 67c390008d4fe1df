"""The ``mediaref`` command: ``plugins``, ``demo``, ``probe``, ``decode``, ``index``."""

from __future__ import annotations

import argparse
import json
import posixpath
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._errors import MediaRefError, UnsupportedSourceError
from ._mime import type_from_content, type_from_name
from ._plugins import backends, open_source, plugins, registry
from ._protocols import ByteSource, ImageBackend, Option, VideoBackend
from ._routing import Kind, explain, options_for, routing_type

__all__ = ["main"]


def _cmd_plugins(args: argparse.Namespace) -> int:
    details: dict[str, list[str]] = {}
    for kind, backend, plugin in backends():
        details.setdefault(plugin, []).extend(_describe_backend(kind, backend, args.verbose))
    for info in plugins():
        print(f"{info.name}: {info.distribution} {info.version}")
        if info.error:
            print(f"  failed to load: {info.error}")
        for label, names in (
            ("video decoders", info.video_backends),
            ("image decoders", info.image_backends),
            ("image encoders", info.image_encoders),
        ):
            if names:
                print(f"  {label}: {', '.join(names)}")
        if info.opens_sources:
            print("  opens sources")
        if info.formats:
            print(f"  formats: {', '.join(info.formats)}")
        for line in details.get(info.name, ()):
            print(line)
        if args.verbose:
            for o in registry().source_options.get(info.name, ()):
                print(f"  source {_option_line(o)}")
    return 0


def _option_line(o: Option) -> str:
    return f"option {o.name}: {o.type} = {o.default!r}" + (f" -- {o.help}" if o.help else "")


def _describe_backend(kind: str, b: VideoBackend | ImageBackend, verbose: bool) -> list[str]:
    """Lines saying what a backend accepts (and, verbose, the options it takes)."""
    schemes = f"schemes {', '.join(b.schemes)}" if b.schemes else "any scheme"
    what = "containers" if kind == "video" else "media types"
    formats = f"{what} {', '.join(b.formats)}" if b.formats else f"any {what[:-1]}"
    check = "; then its accepts() check" if b.accepts is not None else ""
    lines = [f"  {kind} decoder {b.name} (priority {b.priority}): {schemes}; {formats}{check}"]
    if b.description:
        lines.append(f"    {b.description}")
    if verbose:
        lines += [f"    {_option_line(o)}" for o in b.options]
        if not b.options:
            lines.append("    no options")
    return lines


def _parse_options(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``NAME=VALUE`` pairs as options; a VALUE that parses as JSON is that JSON value."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise MediaRefError(f"an option is NAME=VALUE, got {pair!r}")
        try:
            out[name] = json.loads(text)
        except ValueError:
            out[name] = text
    return out


def _source_options(options: dict[str, Any]) -> dict[str, Any]:
    names = registry().source_option_names
    return {k: v for k, v in options.items() if k in names}


def _cmd_probe(args: argparse.Namespace) -> int:
    options = _parse_options(args.option)
    source = open_source(args.uri, **_source_options(options))
    kind = args.kind or _kind_of(source)
    data = source.read_all() if kind == "image" else None
    mime, how = routing_type(kind, source, data)
    found = "the extension" if how == "extension" else "the content" if how == "content" else ""
    print(f"uri: {args.uri}")
    print(f"media type: {mime}" + (f" (from {found})" if found else " (unknown)"))
    label = _label(args.uri, mime, how)
    chosen = _report_route(kind, source, args.decoder, data, label, options)
    if chosen is None:
        return 1
    opened = chosen[1]
    if kind == "image":
        print(f"shape: {opened.shape}, dtype: {opened.dtype}")
        return 0
    with opened as video:
        # Optional: how a backend indexes it for decoding (asked first: the metadata may
        # need more, e.g. a full scan of a Matroska file that decodes from its cues).
        origin = getattr(video, "index_origin", None)
        meta = video.metadata
    for field in meta.__struct_fields__:
        print(f"{field}: {getattr(meta, field)}")
    if origin is not None:
        print(f"index: {origin}")
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from ._decode import open_video

    options = _parse_options(args.option)
    failed = 0
    for uri in args.uris:
        try:
            with open_video(uri, decoder=args.decoder, index_cache=args.out, **options) as video:
                frames = video.metadata.num_frames
                origin = getattr(video, "index_origin", "")
        except MediaRefError as e:
            print(f"{uri}: error: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{uri}: {frames} frames" + (f", index from {origin}" if origin else ""))
    return 1 if failed else 0


def _kind_of(source: ByteSource) -> Kind:
    with source.open() as f:
        head = f.read(16)
    mime = type_from_content(head)
    if mime == "application/octet-stream":
        mime = type_from_name(source.uri)
    return "image" if mime.startswith("image/") else "video"


def _label(uri: str, mime: str, how: str) -> str:
    if how == "extension":
        return f"{posixpath.splitext(uri.split('?', 1)[0])[1].lower()} ({mime})"
    return mime


def _report_route(
    kind: Kind,
    source: ByteSource,
    decoder: str | None,
    data: bytes | memoryview | None,
    label: str,
    options: dict[str, Any],
) -> tuple[VideoBackend | ImageBackend, Any] | None:
    """Print which backend serves `source` and why the others do not; return it, opened."""
    chosen: tuple[VideoBackend | ImageBackend, Any] | None = None
    lines: list[str] = []
    for b, reason in explain(kind, source, decoder=decoder, data=data):
        head = f"{b.name} (priority {b.priority})"
        if chosen is not None:
            lines.append(f"  {head}: not needed" + (f" ({reason})" if reason else ""))
        elif reason is not None:
            lines.append(f"  {head}: declines: {reason}")
        else:
            try:
                chosen = (b, _open(b, source, data, options_for(b, options)))
            except UnsupportedSourceError as e:
                lines.append(f"  {head}: declined when opened: {e.message}")
                continue
            print(f"{kind} decoder: {head}: accepts {label}")
    if chosen is None:
        print(f"{kind} decoder: none accepts {label}")
    if lines:
        print("considered:")
        print("\n".join(lines))
    return chosen


def _open(
    b: VideoBackend | ImageBackend, source: ByteSource, data: Any, options: dict[str, Any]
) -> Any:
    if isinstance(b, VideoBackend):
        return b.open(source, **options)
    return b.decode(data, format="rgb", uri=source.uri, **options)


def _cmd_decode(args: argparse.Namespace) -> int:
    from ._cli_decode import run_decode

    return run_decode(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="mediaref-demo-"))
    t0 = time.perf_counter()
    run_demo(workdir)
    print(f"demo finished in {time.perf_counter() - t0:.2f} s")
    return 0


class _Parser(argparse.ArgumentParser):
    """Reports a bad command line on one line (exit status 2), without the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    from ._cli_decode import add_decode_arguments

    parser = _Parser(
        prog="mediaref",
        description="References to images and video frames, (uri, pts_ns): list the "
        "plugins, probe media, decode frames.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"mediaref {__version__}",
        help="print the version of mediaref-core and exit",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="see: mediaref COMMAND --help"
    )
    plugins_cmd = sub.add_parser("plugins", help="list installed plugins and what they accept")
    plugins_cmd.add_argument(
        "-v", "--verbose", action="store_true", help="also list each backend's options"
    )
    demo = sub.add_parser("demo", help="make sample media, reference it, decode it")
    demo.add_argument("--dir", help="where to write the sample media (default: a temp dir)")
    probe = sub.add_parser(
        "probe", help="say which backend decodes a URI and why; print a video's metadata"
    )
    probe.add_argument("uri", help="the path or URI of the media")
    probe.add_argument("--decoder", help="consider only this backend, e.g. pyav")
    option_help = "an option NAME=VALUE (VALUE as JSON if it parses), e.g. storage_options={...}"
    probe.add_argument("--option", action="append", metavar="NAME=VALUE", help=option_help)
    probe.add_argument(
        "--kind", choices=("video", "image"), help="video or image (default: from the content)"
    )
    decode = sub.add_parser(
        "decode",
        help="decode frames to PNG/JPEG/.npy files or a contact sheet",
        description="Decode frames of a video (times, or a range with --every) or the "
        "references of a file (--refs), writing each frame as soon as its batch is decoded.",
    )
    add_decode_arguments(decode)
    index = sub.add_parser(
        "index", help="prebuild the packet indexes of videos into a shared index directory"
    )
    index.add_argument("uris", nargs="+", metavar="URI", help="the videos to index")
    index.add_argument("--out", required=True, help="the index directory (index_cache=)")
    index.add_argument("--decoder", help="the video backend to index with, e.g. pyav")
    index.add_argument("--option", action="append", metavar="NAME=VALUE", help=option_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (1: failures, 2: bad arguments)."""
    from ._cli_decode import UsageError

    args = _parser().parse_args(argv)
    handler = {
        "plugins": _cmd_plugins,
        "demo": _cmd_demo,
        "probe": _cmd_probe,
        "decode": _cmd_decode,
        "index": _cmd_index,
    }[args.command]
    try:
        return handler(args)
    except UsageError as e:
        print(f"mediaref {args.command}: error: {e}", file=sys.stderr)
        return 2
    except MediaRefError as e:
        print(f"mediaref: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # writing an output: disk full, permission
        print(f"mediaref: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
