"""The ``mediaref`` command: ``plugins``, ``demo``, ``probe``, ``decode``."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ._batch import batch_decode
from ._errors import MediaRefError
from ._plugins import open_source, plugins, video_backend
from ._ref import MediaRef

__all__ = ["main"]


def _cmd_plugins(_: argparse.Namespace) -> int:
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
    return 0


def _cmd_probe(args: argparse.Namespace) -> int:
    with video_backend(args.decoder).open(open_source(args.uri)) as video:
        meta = video.metadata
    for field in meta.__struct_fields__:
        print(f"{field}: {getattr(meta, field)}")
    return 0


def _cmd_decode(args: argparse.Namespace) -> int:
    refs = [MediaRef(args.uri, t) for t in args.pts_ns] if args.pts_ns else [MediaRef(args.uri)]
    frames = batch_decode(refs, decoder=args.decoder)
    from ._plugins import import_pillow

    image = import_pillow()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for ref, frame in zip(refs, frames, strict=True):
        name = out / f"{'image' if ref.pts_ns is None else ref.pts_ns}.png"
        image.fromarray(frame).save(name)
        print(f"{ref.uri} @ {ref.pts_ns}: {frame.shape} -> {name}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="mediaref-demo-"))
    t0 = time.perf_counter()
    run_demo(workdir)
    print(f"demo finished in {time.perf_counter() - t0:.2f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="mediaref", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plugins", help="list installed plugins and what they provide")
    demo = sub.add_parser("demo", help="make sample media, reference it, decode it")
    demo.add_argument("--dir", help="where to write the sample media (default: a temp dir)")
    probe = sub.add_parser("probe", help="print a video's metadata")
    probe.add_argument("uri")
    probe.add_argument("--decoder")
    decode = sub.add_parser("decode", help="decode frames to PNG files")
    decode.add_argument("uri")
    decode.add_argument("pts_ns", nargs="*", type=int)
    decode.add_argument("--decoder")
    decode.add_argument("-o", "--output", default=".")
    args = parser.parse_args(argv)
    handler = {
        "plugins": _cmd_plugins,
        "demo": _cmd_demo,
        "probe": _cmd_probe,
        "decode": _cmd_decode,
    }[args.command]
    try:
        return handler(args)
    except MediaRefError as e:
        print(f"mediaref: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
