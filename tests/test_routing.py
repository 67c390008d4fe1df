"""Routing with third-party backends installed through real entry points.

``mediaref-example`` (tests/plugins/example_backend, the plugin docs/plugins.md builds)
adds ``ppm``, an image backend for ``image/x-portable-pixmap`` at priority 200, and
``fakevideo``, a video backend for ``fake://`` URIs at priority 200; ``pil`` and ``pyav``
(priority 100) must keep every PNG and MP4.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

import mediaref
from mediaref import (
    InvalidOptionError,
    MediaRef,
    MediaRefError,
    UndecodableMediaError,
    UnsupportedSourceError,
    batch_decode,
)
from mediaref._cli import main
from tests.conftest import need

if TYPE_CHECKING:
    from tests.media import Clip

mediaref_example = pytest.importorskip("mediaref_example")
EXAMPLE = Path(__file__).parent / "plugins" / "example_backend" / "src" / "mediaref_example"
RGB = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3) * 2


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    need("av")
    from tests.media import make

    return make("h264_bframes_mp4", tmp_path_factory.mktemp("routing"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("images")
    Image.fromarray(RGB).save(d / "p6.ppm")  # Pillow writes binary PPM (P6)
    Image.fromarray(RGB[::-1]).save(d / "picture.png")
    head = f"P3\n{RGB.shape[1]} {RGB.shape[0]}\n255\n"
    (d / "plain.ppm").write_text(head + " ".join(map(str, RGB.ravel())) + "\n")
    return {p.name: str(p) for p in d.iterdir()}


@pytest.fixture
def ppm_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URIs the ``ppm`` backend decoded (it imports `decode_ppm` on each call)."""
    from mediaref_example import _codecs

    calls: list[str] = []
    real = _codecs.decode_ppm

    def spy(data: bytes, *, format: str, uri: str) -> Any:
        calls.append(uri)
        return real(data, format=format, uri=uri)

    monkeypatch.setattr(_codecs, "decode_ppm", spy)
    mediaref_example.STORE.update({"clip": b"FAKEVIDEO 10", "garbage": b"not a stream"})
    return calls


def fake_frame(i: int, offset: int = 0) -> NDArray[np.uint8]:
    return np.full((2, 4, 3), 10 * i + offset, np.uint8)


def pillow(path: str, mode: str = "RGB") -> NDArray[np.uint8]:
    with Image.open(path) as im:
        return np.asarray(im.convert(mode))


def test_one_batch_is_served_by_each_backend_that_declares_its_media(
    clip: Clip, files: dict[str, str], ppm_calls: list[str]
) -> None:
    t = clip.starts_ns[7]
    refs = [
        MediaRef(files["p6.ppm"]),
        MediaRef(files["picture.png"]),
        MediaRef("fake://clip", 300_000_000),
        MediaRef(clip.uri, t),
        MediaRef("fake://clip", 950_000_000),
    ]
    out = batch_decode(refs)
    np.testing.assert_array_equal(out[0], RGB)
    np.testing.assert_array_equal(out[1], RGB[::-1])
    np.testing.assert_array_equal(out[2], fake_frame(3))
    np.testing.assert_array_equal(out[3], clip.frame_on_screen_at(t))
    np.testing.assert_array_equal(out[4], fake_frame(9))
    assert ppm_calls == [files["p6.ppm"]]  # the PNG went to pil


def test_single_references_are_routed_alike(
    clip: Clip, files: dict[str, str], ppm_calls: list[str]
) -> None:
    np.testing.assert_array_equal(MediaRef(files["picture.png"]).to_ndarray(), RGB[::-1])
    np.testing.assert_array_equal(MediaRef(files["p6.ppm"]).to_ndarray("bgr"), RGB[..., ::-1])
    np.testing.assert_array_equal(MediaRef("fake://clip", 0).to_ndarray(), fake_frame(0))
    t = clip.starts_ns[-1]
    np.testing.assert_array_equal(MediaRef(clip.uri, t).to_ndarray(), clip.frame_on_screen_at(t))
    assert ppm_calls == [files["p6.ppm"]]


def test_accepts_returning_false_passes_the_image_to_the_next_backend(
    files: dict[str, str], ppm_calls: list[str]
) -> None:
    # ppm declares image/x-portable-pixmap but accepts only binary (P6) files.
    np.testing.assert_array_equal(MediaRef(files["plain.ppm"]).to_ndarray(), RGB)
    assert ppm_calls == []


def test_a_backend_that_declines_in_decode_passes_the_image_on(
    files: dict[str, str], ppm_calls: list[str]
) -> None:
    gray = MediaRef(files["p6.ppm"]).to_ndarray("gray")  # ppm returns rgb and bgr only
    np.testing.assert_array_equal(gray, pillow(files["p6.ppm"], "L"))
    assert ppm_calls == [files["p6.ppm"]]


def test_a_backend_that_declines_in_open_passes_the_video_on(
    clip: Clip, ppm_calls: list[str]
) -> None:
    # An MP4 behind fake://: fakevideo reads its head, declines, and pyav decodes it.
    mediaref_example.STORE["real"] = clip.path.read_bytes()
    t = clip.starts_ns[12]
    frames = batch_decode([MediaRef("fake://real", t), MediaRef("fake://clip", 100_000_000)])
    np.testing.assert_array_equal(frames[0], clip.frame_on_screen_at(t))
    np.testing.assert_array_equal(frames[1], fake_frame(1))


def test_when_every_accepting_backend_fails_the_last_error_is_raised(
    ppm_calls: list[str],
) -> None:
    with pytest.raises(UndecodableMediaError, match="cannot open as a video") as info:
        MediaRef("fake://garbage", 0).to_ndarray()
    assert info.value.uri == "fake://garbage" and info.value.pts_ns == 0


def test_decoder_name_forces_one_backend_without_fallback(
    clip: Clip, files: dict[str, str], ppm_calls: list[str]
) -> None:
    np.testing.assert_array_equal(MediaRef(files["p6.ppm"]).to_ndarray(decoder="pil"), RGB)
    assert ppm_calls == []
    with pytest.raises(UnsupportedSourceError, match="fakevideo: not a FAKEVIDEO stream"):
        MediaRef(clip.uri, clip.starts_ns[0]).to_ndarray(decoder="fakevideo")
    with pytest.raises(UnsupportedSourceError, match="ppm: ppm reads 8-bit binary PPM only"):
        MediaRef(files["picture.png"]).to_ndarray(decoder="ppm")


def test_a_video_decoder_named_in_a_mixed_batch_applies_to_the_videos(
    clip: Clip, files: dict[str, str], ppm_calls: list[str]
) -> None:
    t = clip.starts_ns[3]
    refs = [MediaRef(files["p6.ppm"]), MediaRef(clip.uri, t), MediaRef("fake://clip", 0)]
    out = batch_decode(refs, decoder="pyav", on_error="return")
    np.testing.assert_array_equal(out[0], RGB)
    assert ppm_calls == [files["p6.ppm"]]
    np.testing.assert_array_equal(out[1], clip.frame_on_screen_at(t))
    assert isinstance(out[2], UndecodableMediaError)  # pyav, forced, reads no FAKEVIDEO
    assert out[2].message.startswith("cannot open as a video")


def test_an_option_reaches_only_the_backends_that_declare_it(
    clip: Clip, files: dict[str, str], ppm_calls: list[str]
) -> None:
    # pyav's decoder raises TypeError on an option it does not take, fakevideo's open
    # too: each would fail if it received the other's option.
    t = clip.starts_ns[5]
    refs = [MediaRef("fake://clip", 200_000_000), MediaRef(clip.uri, t), MediaRef(files["p6.ppm"])]
    out = batch_decode(refs, offset=5, threads=1, dtype="native")  # dtype: pil's alone
    np.testing.assert_array_equal(out[0], fake_frame(2, offset=5))
    np.testing.assert_array_equal(out[1], clip.frame_on_screen_at(t))
    np.testing.assert_array_equal(out[2], RGB)  # ppm declares no dtype
    np.testing.assert_array_equal(
        MediaRef("fake://clip", 0).to_ndarray(offset=7, threads=2), fake_frame(0, offset=7)
    )
    assert MediaRef(files["picture.png"]).to_ndarray(max_size=(4, 4)).shape == (3, 4, 3)


@pytest.mark.parametrize(
    ("option", "suggestion"),
    [("stream_indx", "did you mean 'stream'?"), ("theads", "did you mean 'threads'?")],
    ids=["stream", "threads"],
)
def test_a_misspelt_option_names_the_close_matches(
    files: dict[str, str], option: str, suggestion: str
) -> None:
    with pytest.raises(InvalidOptionError, match=f"unknown option '{option}'; {suggestion}"):
        MediaRef(files["picture.png"]).to_ndarray(**{option: 1})


def test_an_option_nobody_declares_raises_before_anything_is_decoded(
    files: dict[str, str], ppm_calls: list[str]
) -> None:
    with pytest.raises(InvalidOptionError) as info:
        MediaRef(files["p6.ppm"]).to_ndarray(foo=1)
    err = info.value
    assert isinstance(err, TypeError) and isinstance(err, MediaRefError)
    assert (err.option, err.close_matches) == ("foo", ())
    assert str(err).startswith("unknown option 'foo' (options of the installed backends: ")
    assert "index_cache" in err.known and "max_size" in err.known and "offset" in err.known
    with pytest.raises(InvalidOptionError, match="unknown option 'foo'"):
        batch_decode([MediaRef(files["p6.ppm"])], on_error="return", foo=1)
    assert ppm_calls == []
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), str(back), back.close_matches) == (InvalidOptionError, str(err), ())


def test_builtin_option_declarations_match_what_the_backends_take() -> None:
    import inspect

    from mediaref_av import _decoder
    from mediaref_av._plugin import OPTIONS as AV_OPTIONS
    from mediaref_pil import _decode
    from mediaref_pil._plugin import OPTIONS as PIL_OPTIONS

    assert tuple(o.name for o in AV_OPTIONS) == _decoder.OPTIONS
    av_params = inspect.signature(_decoder.AVVideoDecoder).parameters
    assert {o.name: o.default for o in AV_OPTIONS} == {
        o.name: av_params[o.name].default for o in AV_OPTIONS
    }
    pil_params = inspect.signature(_decode.decode_image).parameters
    assert {o.name: o.default for o in PIL_OPTIONS} == {
        o.name: pil_params[o.name].default for o in PIL_OPTIONS
    }


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_plugins_says_what_each_backend_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "plugins")
    assert code == 0
    assert "  video decoder pyav (priority 100): any scheme; any container\n" in out
    assert "  image decoder pil (priority 100): any scheme; any media type\n" in out
    assert "  video decoder fakevideo (priority 200): schemes fake; any container\n" in out
    assert (
        "  image decoder ppm (priority 200): any scheme; media types image/x-portable-pixmap; "
        "then its accepts() check\n"
    ) in out
    assert "option " not in out


def test_plugins_verbose_lists_every_declared_option(capsys: pytest.CaptureFixture[str]) -> None:
    from mediaref_av._plugin import OPTIONS as AV_OPTIONS
    from mediaref_pil._plugin import OPTIONS as PIL_OPTIONS

    code, out = run_cli(capsys, "plugins", "-v")
    assert code == 0
    for o in (*AV_OPTIONS, *PIL_OPTIONS):
        assert f"    option {o.name}: {o.type} = {o.default!r} -- {o.help}\n" in out
    assert "    option offset: int = 0 -- added to every pixel\n" in out


def test_probe_says_which_backend_serves_a_video_and_why_others_do_not(
    clip: Clip, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(capsys, "probe", clip.uri)
    assert code == 0
    assert out.startswith(
        f"uri: {clip.uri}\n"
        "media type: video/mp4 (from the extension)\n"
        "video decoder: pyav (priority 100): accepts .mp4 (video/mp4)\n"
        "considered:\n"
        "  fakevideo (priority 200): declines: reads only fake URIs, not file\n"
        "  fake (priority -100): not needed\n"
        "codec: h264\n"
    )
    assert f"num_frames: {len(clip.pts)}\n" in out


def test_probe_reports_declines_and_images(
    files: dict[str, str], ppm_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(capsys, "probe", "fake://clip")
    assert code == 0
    assert "video decoder: fakevideo (priority 200): accepts application/octet-stream\n" in out
    assert "  pyav (priority 100): not needed\n" in out
    assert "num_frames: 10\nbegin_ns: 0\nend_ns: 1000000000\n" in out
    code, out = run_cli(capsys, "probe", files["picture.png"])
    assert code == 0
    assert out == (
        f"uri: {files['picture.png']}\n"
        "media type: image/png (from the content)\n"
        "image decoder: pil (priority 100): accepts image/png\n"
        "considered:\n"
        "  ppm (priority 200): declines: reads only image/x-portable-pixmap, not image/png\n"
        "  fakeimg (priority -100): not needed\n"
        "shape: (5, 7, 3), dtype: uint8\n"
    )
    code, out = run_cli(capsys, "probe", files["plain.ppm"])
    assert "image decoder: pil (priority 100): accepts image/x-portable-pixmap\n" in out
    assert "  ppm (priority 200): declines: its accepts() returned false\n" in out


def test_probe_reports_a_backend_that_declines_when_opened(
    clip: Clip, ppm_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    mediaref_example.STORE["real"] = clip.path.read_bytes()
    code, out = run_cli(capsys, "probe", "fake://real")
    assert code == 0
    assert out.startswith(
        "uri: fake://real\n"
        "media type: video/mp4 (from the content)\n"
        "video decoder: pyav (priority 100): accepts video/mp4\n"
        "considered:\n"
        "  fakevideo (priority 200): declined when opened: not a FAKEVIDEO stream\n"
        "  fake (priority -100): not needed\n"
    )


def test_docs_show_the_example_plugin_verbatim() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    for name in ("__init__.py", "_codecs.py"):
        body = (EXAMPLE / name).read_text().split('"""\n', 1)[1].strip()  # after the docstring
        assert body in docs, name


def test_every_backend_of_the_example_is_listed() -> None:
    info = {i.name: i for i in mediaref.plugins()}["example"]
    assert (info.distribution, info.video_backends, info.image_backends) == (
        "mediaref-example",
        ("fakevideo",),
        ("ppm",),
    )
    assert info.formats == ("image/x-portable-pixmap",) and info.opens_sources


def test_a_source_option_reaches_only_the_source_that_declares_it(
    clip: Clip, ppm_calls: list[str]
) -> None:
    mediaref_example.STORE["clip@2"] = b"FAKEVIDEO 20"
    t = clip.starts_ns[4]
    refs = [MediaRef("fake://clip", 1_500_000_000), MediaRef(clip.uri, t)]
    out = batch_decode(refs, version="2", threads=1)  # neither pyav nor the core's source
    np.testing.assert_array_equal(out[0], fake_frame(15))  # frame 15 exists only in @2
    np.testing.assert_array_equal(out[1], clip.frame_on_screen_at(t))
    assert mediaref.open_source("fake://clip", version="2").read_all() == b"FAKEVIDEO 20"
    with pytest.raises(InvalidOptionError, match="unknown option 'threads'"):
        mediaref.open_source("fake://clip", threads=1)  # a decoder's option, not a source's
    with pytest.raises(InvalidOptionError, match="did you mean 'version'"):
        MediaRef("fake://clip", 0).to_ndarray(versoin="2")


def test_plugins_verbose_lists_source_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "plugins", "-v")
    assert code == 0
    assert "  source option version: str | None = None -- read the store's NAME@VERSION\n" in out
    info = {i.name: i for i in mediaref.plugins()}
    assert (info["example"].source_options, info["builtin"].source_options) == (("version",), ())


@pytest.fixture
def only_example_backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry with the example's backends alone: nothing takes what they refuse."""
    from mediaref import _plugins

    _plugins.reset_plugins()
    reg = _plugins.registry()
    monkeypatch.setattr(reg, "video", [(b, p) for b, p in reg.video if b.name == "fakevideo"])
    monkeypatch.setattr(reg, "image", [(b, p) for b, p in reg.image if b.name == "ppm"])
    yield
    _plugins.reset_plugins()


@pytest.mark.usefixtures("only_example_backends")
def test_when_nothing_accepts_a_source_the_error_says_why_for_each_backend(
    clip: Clip, files: dict[str, str], ppm_calls: list[str]
) -> None:
    png = files["picture.png"]
    with pytest.raises(mediaref.BackendNotInstalledError) as info:
        MediaRef(png).to_ndarray()
    assert str(info.value) == (
        f"no installed image decoder accepts it: ppm: reads only image/x-portable-pixmap ('{png}')"
    )
    with pytest.raises(mediaref.BackendNotInstalledError) as info:
        MediaRef(clip.uri, 0).to_ndarray()
    assert str(info.value) == (
        "no installed video decoder accepts it: fakevideo reads only fake URIs "
        f"('{clip.uri}' at pts_ns=0)"
    )
    out = batch_decode(
        [MediaRef("fake://garbage", 0), MediaRef("fake://clip", 0)], on_error="return"
    )
    assert isinstance(out[0], UnsupportedSourceError) and isinstance(out[0], ValueError)
    assert str(out[0]) == (
        "every video decoder that accepts it declined it: fakevideo: not a FAKEVIDEO stream "
        "('fake://garbage' at pts_ns=0)"
    )
    np.testing.assert_array_equal(out[1], fake_frame(0))
