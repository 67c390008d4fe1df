from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

import mediaref
from mediaref import (
    BackendNotInstalledError,
    MediaRef,
    SourceNotFoundError,
    UnknownBackendError,
    _plugins,
)

mediaref_fake = pytest.importorskip("mediaref_fake")


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    _plugins.reset_plugins()
    yield
    _plugins.reset_plugins()


def test_fake_plugin_is_found_through_its_entry_point(fresh_plugins: None) -> None:
    (ep,) = [e for e in importlib.metadata.entry_points(group="mediaref") if e.name == "fake"]
    assert ep.dist is not None and ep.dist.name == "mediaref-fake"
    info = {i.name: i for i in mediaref.plugins()}["fake"]
    assert (info.distribution, info.version) == ("mediaref-fake", "0.0.1")
    assert info.video_backends == ("fake",)
    assert info.image_backends == ("fakeimg",)
    assert info.opens_sources
    assert info.formats == ()
    assert {i.name for i in mediaref.plugins()} >= {"builtin", "fake"}


def test_plugins_are_not_loaded_at_import() -> None:
    code = (
        "import sys, mediaref; from mediaref import _plugins;"
        "print(_plugins._registry is None, 'mediaref_fake' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_video_backend_chosen_by_name(fresh_plugins: None) -> None:
    mediaref_fake.STORE["clip"] = b"x"
    frame = MediaRef("mem:clip", 300_000_000).to_ndarray(decoder="fake")
    np.testing.assert_array_equal(frame, np.full((2, 4, 3), 3, np.uint8))


def test_unknown_backend_lists_installed_ones(fresh_plugins: None) -> None:
    mediaref_fake.STORE["clip"] = b"x"
    with pytest.raises(
        UnknownBackendError,
        match=r"^Unknown decoder backend 'pyaw': no installed video decoder has this name; "
        r"installed: .*'fake' \(mediaref-fake 0.0.1\)",
    ) as info:
        MediaRef("mem:clip", 0).to_ndarray(decoder="pyaw")
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value, ValueError)


def test_highest_priority_wins_when_no_name_given(
    fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIAREF_FAKE_PRIORITY", "10000")
    _plugins.reset_plugins()
    mediaref_fake.STORE["img"] = b"not really an image"
    np.testing.assert_array_equal(MediaRef("mem:img").to_ndarray(), np.full((2, 2, 3), 7, np.uint8))
    assert _plugins.video_backend().name == "fake"


def test_source_plugin_errors_are_mediaref_errors(fresh_plugins: None) -> None:
    with pytest.raises(SourceNotFoundError, match="no such key in the memory store"):
        MediaRef("mem:missing", 0).to_ndarray(decoder="fake")


def test_unknown_scheme_names_what_is_missing(fresh_plugins: None) -> None:
    # (s3:// and the other object stores are mediaref-fsspec's, installed here.)
    with pytest.raises(BackendNotInstalledError, match="no installed plugin reads 'zzz' URIs"):
        MediaRef("zzz://bucket/key.png").to_ndarray()


def test_missing_backend_names_the_distribution_to_install(
    fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [])
    _plugins.reset_plugins()
    with pytest.raises(
        BackendNotInstalledError,
        match=r"^Video frame extraction requires the 'video' extra: no video decoder is "
        r"installed; install mediaref-av from a mediaref checkout: pip install \./mediaref_av$",
    ):
        _plugins.video_backend()
    with pytest.raises(BackendNotInstalledError, match=r"pip install \./mediaref_pil"):
        _plugins.image_backend()
    with pytest.raises(BackendNotInstalledError) as info:
        MediaRef("ep.mp4", 5).to_ndarray()
    assert str(info.value) == (
        "Video frame extraction requires the 'video' extra: no video decoder is installed; "
        "install mediaref-av from a mediaref checkout: pip install ./mediaref_av "
        "('ep.mp4' at pts_ns=5)"
    )
    with pytest.raises(BackendNotInstalledError, match=r"pip install \./mediaref_pil"):
        mediaref.DataURI.from_image(np.zeros((2, 2, 3), np.uint8))


def test_a_broken_plugin_is_reported_and_the_others_still_load(
    fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.metadata.entry_points(group="mediaref")
    broken = importlib.metadata.EntryPoint("broken", "mediaref_no_such_module", "mediaref")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [*real, broken])
    with pytest.warns(RuntimeWarning, match="mediaref plugin 'broken' .* failed to load"):
        infos = {i.name: i for i in mediaref.plugins()}
    assert infos["broken"].error is not None and "ModuleNotFoundError" in infos["broken"].error
    assert infos["fake"].error is None


def test_docs_show_every_hook_signature() -> None:
    import inspect
    from pathlib import Path

    from mediaref import hookspecs

    doc = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text()
    for name, fn in vars(hookspecs).items():
        if name.startswith("mediaref_"):
            sig = str(inspect.signature(fn)).replace("'", "")
            assert f"def {name}{sig}" in doc, name


def test_docs_describe_every_video_metadata_field_and_byte_source_member() -> None:
    from pathlib import Path

    from mediaref import ByteSource, Option, VideoMetadata

    doc = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text()
    for field in VideoMetadata.__struct_fields__:
        assert f"| `{field}` |" in doc, field
    assert "`duration_ns`" in doc
    for member in ("uri", "local_path", "identity", "read_all", "open"):
        assert f"| `{member}" in doc, member
    assert {"uri", "local_path", "identity", "read_all", "open"} <= {
        *dir(ByteSource),
        *ByteSource.__annotations__,
    }
    assert Option.__struct_fields__ == ("name", "type", "default", "help")
    assert "[build-system]" in doc and "pip install ./mediaref_core" in doc


def test_pil_images_come_from_a_plugin_and_say_what_to_install_without_one(
    fresh_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    mediaref_fake.STORE["pic"] = b"x"
    only_fake = [e for e in importlib.metadata.entry_points(group="mediaref") if e.name == "fake"]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: only_fake)
    _plugins.reset_plugins()
    ref = MediaRef("mem:pic")
    assert ref.to_ndarray().shape == (2, 2, 3)  # the fake image backend decodes it
    with pytest.raises(
        BackendNotInstalledError,
        match=r"^no installed plugin makes PIL images; install mediaref-pil from a mediaref "
        r"checkout: pip install \./mediaref_pil \('mem:pic'\)$",
    ):
        ref.to_pil_image()
    monkeypatch.undo()
    _plugins.reset_plugins()
    image = ref.to_pil_image(decoder="fakeimg")
    assert (image.mode, image.size) == ("RGB", (2, 2))
    np.testing.assert_array_equal(np.asarray(image), ref.to_ndarray(decoder="fakeimg"))
