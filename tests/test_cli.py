from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediaref import MediaRef
from mediaref._cli import main
from mediaref._cli_decode import UsageError, output_name, parse_time
from tests.conftest import need


def mediaref_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediaref._cli", *args], capture_output=True, text=True, timeout=120
    )


def test_plugins_lists_each_plugin_and_what_it_provides() -> None:
    out = mediaref_cli("plugins")
    assert out.returncode == 0, out.stderr
    assert "pil: mediaref-pil 0.1.0\n  image decoders: pil\n  image encoders: pil" in out.stdout
    assert "pyav: mediaref-av 0.1.0\n  video decoders: pyav" in out.stdout
    assert "builtin: mediaref-core 0.1.0\n  opens sources" in out.stdout


def test_demo_makes_media_references_and_decodes_them(tmp_path: Path) -> None:
    need("av")
    out = mediaref_cli("demo", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "batch_decode: 14 frames of shape (180, 320, 3), dtype uint8" in out.stdout
    assert "decoded the data URI back: identical pixels = True" in out.stdout
    frame = MediaRef(str(tmp_path / "sample.mp4"), 1_050_000_000).to_ndarray()
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "frame.png")), frame)


def test_probe_and_decode(tmp_path: Path) -> None:
    need("av")
    assert mediaref_cli("demo", "--dir", str(tmp_path)).returncode == 0
    video = str(tmp_path / "sample.mp4")
    probe = mediaref_cli("probe", video)
    assert probe.returncode == 0, probe.stderr
    assert "num_frames: 100\n" in probe.stdout
    assert "begin_ns: 0\nend_ns: 5000000000\n" in probe.stdout
    dec = mediaref_cli("decode", video, "0", "2500000000", "-o", str(tmp_path / "out"))
    assert dec.returncode == 0, dec.stderr
    for t in (0, 2_500_000_000):
        saved = np.asarray(Image.open(tmp_path / "out" / output_name(MediaRef(video, t), "png")))
        np.testing.assert_array_equal(saved, MediaRef(video, t).to_ndarray())


def test_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    out = mediaref_cli("decode", str(tmp_path / "missing.mp4"), "0")
    assert out.returncode == 1
    assert (
        out.stderr == f"mediaref: error: no such file ('{tmp_path / 'missing.mp4'}' at pts_ns=0)\n"
    )


# --- mediaref decode ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two 2 s videos both named clip.mp4 (10 and 5 fps: different frames at most times)."""
    need("av")
    from tests.media import encode

    root = tmp_path_factory.mktemp("cli")
    (root / "a").mkdir()
    (root / "b").mkdir()
    a = encode(root / "a" / "clip.mp4", "mpeg4", n=20, rate=10)
    b = encode(root / "b" / "clip.mp4", "mpeg4", n=10, rate=5)
    return {"a": str(a), "b": str(b)}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def name(uri: str, pts_ns: int | None, ext: str = "png") -> str:
    return output_name(MediaRef(uri, pts_ns), ext)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1500000000", 1_500_000_000),
        ("1.5s", 1_500_000_000),
        ("1500ms", 1_500_000_000),
        ("1500000us", 1_500_000_000),
        ("7ns", 7),
        ("-0.5s", -500_000_000),
        (".25s", 250_000_000),
        ("0.000000001s", 1),
        ("9223372036.854775807s", 2**63 - 1),
    ],
)
def test_times_parse_exactly(text: str, ns: int) -> None:
    assert parse_time(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.5", "'1.5' needs a unit: 1.5s, 1.5ms, 1.5us or 1.5ns"),
        ("1.5 sec", "not a time: '1.5 sec' (write ns as an integer, or 1.5s, 1500ms, 20us)"),
        ("0.0000000015s", "'0.0000000015s' is not a whole number of nanoseconds"),
    ],
)
def test_bad_times_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_time(text)
    assert str(info.value) == message


def test_output_names_keep_stem_uri_hash_and_pts() -> None:
    assert (
        name("videos/clip.mp4", 1_500_000_000)
        == "clip-" + sha1_8("videos/clip.mp4") + "-1500000000.png"
    )
    assert name("https://host/x/cam%201.mkv?sig=abc", None, "npy").startswith("cam_201-")
    assert name("data:image/png;base64,AAAA", None).startswith("data-")
    assert name("a/clip.mp4", 0) != name("b/clip.mp4", 0)


def sha1_8(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()[:8]


def test_decode_writes_each_time_pixel_exact(
    clips: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = clips["a"]
    code, out, err = run(capsys, "decode", a, "0", "1.5s", "1999ms", "-o", str(tmp_path))
    assert (code, err) == (0, "")
    assert out == f"wrote 3 png files to {tmp_path}\n"
    for t in (0, 1_500_000_000, 1_999_000_000):
        saved = np.asarray(Image.open(tmp_path / name(a, t)))
        np.testing.assert_array_equal(saved, MediaRef(a, t).to_ndarray())


def test_npy_and_jpeg_formats(
    clips: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = clips["a"]
    assert run(capsys, "decode", a, "0.3s", "-o", str(tmp_path), "--format", "npy")[0] == 0
    saved = np.load(tmp_path / name(a, 300_000_000, "npy"))
    np.testing.assert_array_equal(saved, MediaRef(a, 300_000_000).to_ndarray())
    assert run(capsys, "decode", a, "0.3s", "-o", str(tmp_path), "--format", "jpeg")[0] == 0
    with Image.open(tmp_path / name(a, 300_000_000, "jpg")) as jpeg:
        assert (jpeg.format, jpeg.size) == ("JPEG", (128, 72))


def test_every_steps_over_the_whole_video_or_a_range(
    clips: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = clips["a"]
    assert run(capsys, "decode", a, "--every", "0.5s", "-o", str(tmp_path / "all"))[0] == 0
    times = [0, 500_000_000, 1_000_000_000, 1_500_000_000]  # the video shows [0, 2 s)
    assert sorted(os.listdir(tmp_path / "all")) == sorted(name(a, t) for t in times)
    for t in times:
        saved = np.asarray(Image.open(tmp_path / "all" / name(a, t)))
        np.testing.assert_array_equal(saved, MediaRef(a, t).to_ndarray())
    args = ["--every", "250ms", "--from", "0.5s", "--to", "1s", "-o", str(tmp_path / "part")]
    assert run(capsys, "decode", a, *args)[0] == 0
    assert sorted(os.listdir(tmp_path / "part")) == sorted(
        name(a, t) for t in (500_000_000, 750_000_000)
    )


def write_jsonl(path: Path, refs: list[MediaRef], tail: bytes = b"") -> Path:
    import msgspec

    lines = [msgspec.json.encode({"step": i, "obs": {"image": r}}) for i, r in enumerate(refs)]
    path.write_bytes(b"\n".join(lines) + b"\n" + tail)
    return path


def test_refs_from_different_videos_never_collide(
    clips: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refs = [MediaRef(clips["a"], 400_000_000), MediaRef(clips["b"], 400_000_000)]
    refs_file = write_jsonl(tmp_path / "steps.jsonl", refs)
    args = ["--refs", str(refs_file), "--column", "obs.image", "-o", str(tmp_path / "out")]
    assert run(capsys, "decode", *args)[0] == 0
    assert len(os.listdir(tmp_path / "out")) == 2
    a_frame, b_frame = (
        np.asarray(Image.open(tmp_path / "out" / name(r.uri, r.pts_ns))) for r in refs
    )
    np.testing.assert_array_equal(a_frame, refs[0].to_ndarray())
    np.testing.assert_array_equal(b_frame, refs[1].to_ndarray())
    assert not np.array_equal(a_frame, b_frame)


def test_frames_are_written_before_the_refs_file_is_read_to_its_end(
    clips: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The last line is not JSON: a decoder that read every reference first would fail
    # before writing anything; streaming writes the frames of each batch as it goes.
    refs = [MediaRef(clips["a"], t * 100_000_000) for t in range(6)]
    refs_file = write_jsonl(tmp_path / "steps.jsonl", refs, tail=b"{broken\n")
    out_dir = tmp_path / "out"
    code, _, err = run(
        capsys, "decode", "--refs", str(refs_file), "--column", "obs.image",
        "-o", str(out_dir), "--batch-size", "2",
    )  # fmt: skip
    assert code == 1
    assert err.startswith("mediaref: error: JSON is malformed") and err.count("\n") == 1
    assert f"(line 7, column 'obs.image', file '{refs_file}')" in err
    assert sorted(os.listdir(out_dir)) == sorted(name(r.uri, r.pts_ns) for r in refs)


def test_keep_going_writes_the_rest_and_lists_failures(
    clips: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = clips["a"]
    missing = str(tmp_path / "missing.mp4")
    refs = [
        MediaRef(a, 0),
        MediaRef(a, 9_000_000_000),
        MediaRef(a, 100_000_000),
        MediaRef(missing, 0),
    ]
    refs_file = write_jsonl(tmp_path / "steps.jsonl", refs)
    out_dir = tmp_path / "out"
    args = ["--refs", str(refs_file), "--column", "obs.image", "-o", str(out_dir), "--keep-going"]
    code, out, err = run(capsys, "decode", *args)
    assert code == 1
    assert out == f"wrote 2 png files to {out_dir}\n"
    assert err == (
        "mediaref: 2 of 4 references failed:\n"
        "  pts_ns=9000000000 is out of range: frames are shown in [0, 2000000000) ns = "
        f"[0.000000, 2.000000) s ('{a}' at pts_ns=9000000000)\n"
        f"  no such file ('{missing}' at pts_ns=0)\n"
    )
    for t in (0, 100_000_000):
        saved = np.asarray(Image.open(out_dir / name(a, t)))
        np.testing.assert_array_equal(saved, MediaRef(a, t).to_ndarray())


def test_msgpack_refs_file(
    clips: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import msgspec

    refs = [MediaRef(clips["b"], 0), MediaRef(clips["b"], 1_900_000_000)]
    path = tmp_path / "refs.msgpack"
    path.write_bytes(b"".join(map(msgspec.msgpack.encode, refs)))
    assert run(capsys, "decode", "--refs", str(path), "-o", str(tmp_path / "out"))[0] == 0
    assert sorted(os.listdir(tmp_path / "out")) == sorted(name(r.uri, r.pts_ns) for r in refs)


def test_contact_sheet_is_a_labelled_grid(
    clips: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = clips["a"]
    sheet = tmp_path / "sheet.png"
    args = ["--sheet", str(sheet), "--columns", "3", "--cell-width", "64"]
    code, out, _ = run(capsys, "decode", a, "0", "0.5s", "1s", "1.5s", "1.9s", *args)
    assert code == 0
    from mediaref_pil import ContactSheet

    label = ContactSheet.LABEL_HEIGHT
    assert out == f"wrote a contact sheet of 5 frames (192x{2 * (36 + label)}) to {sheet}\n"
    with Image.open(sheet) as image:
        grid = np.asarray(image.convert("RGB"))
    assert grid.shape == (2 * (36 + label), 192, 3)
    for i, t in enumerate([0, 500_000_000, 1_000_000_000, 1_500_000_000, 1_900_000_000]):
        thumb = Image.fromarray(MediaRef(a, t).to_ndarray()).resize((64, 36), Image.BILINEAR)
        x, y = (i % 3) * 64, (i // 3) * (36 + label)
        np.testing.assert_array_equal(grid[y : y + 36, x : x + 64], np.asarray(thumb))
        assert (grid[y + 36 : y + 36 + label, x : x + 64] < 128).any()  # a label is drawn
    assert not (tmp_path / "out").exists() and not list(Path.cwd().glob("clip-*.png"))


def test_plain_progress_line_without_tqdm(
    clips: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    code, _, err = run(capsys, "decode", clips["a"], "0", "1s", "-o", str(tmp_path), "--progress")
    assert code == 0
    assert err.splitlines()[-1] == "mediaref decode: 2/2 frames, 0 failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["decode", "CLIP", "0", "-o", "FILE"],
            "mediaref decode: error: -o FILE is a file, not a directory",
        ),
        (
            ["decode", "CLIP", "1.5"],
            "mediaref decode: error: '1.5' needs a unit: 1.5s, 1.5ms, 1.5us or 1.5ns",
        ),
        (
            ["decode", "--refs", "nothing.jsonl"],
            "mediaref decode: error: --refs nothing.jsonl: no such file",
        ),
        (
            ["decode", "CLIP", "--from", "1s"],
            "mediaref decode: error: --from and --to go with --every",
        ),
        (
            ["decode", "CLIP", "--every", "0s"],
            "mediaref decode: error: --every must be positive, got '0s'",
        ),
        (["decode"], "mediaref decode: error: give a URI to decode, or --refs FILE"),
        (
            ["decode", "CLIP", "--format", "gif"],
            # argparse quotes the choices differently across Python versions
            "mediaref decode: error: argument --format: invalid choice: 'gif' (choose from ",
        ),
    ],
    ids=[
        "output-is-a-file",
        "time-without-unit",
        "no-refs-file",
        "from-without-every",
        "zero-step",
        "nothing",
        "format",
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    clips: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "FILE").write_text("")
    args = [clips["a"] if a == "CLIP" else a for a in args]
    out = subprocess.run(
        [sys.executable, "-m", "mediaref._cli", *args],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr


def test_version() -> None:
    out = mediaref_cli("--version")
    assert (out.returncode, out.stdout) == (0, "mediaref 0.1.0\n")


def test_every_argument_has_help() -> None:
    import argparse

    from mediaref._cli import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"plugins", "demo", "probe", "decode", "index"}
    assert all(action.help for action in parser._actions)
    for command, p in sub.choices.items():
        for action in p._actions:
            assert action.help, f"mediaref {command} {action.dest} has no help"
