from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mediaref


def test_import_pulls_in_no_codec_or_array_library() -> None:
    heavy = "{'numpy', 'PIL', 'av', 'pydantic'}"
    code = f"import sys, mediaref; print(sorted({heavy} & sys.modules.keys()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_compat_module_imports_without_pyav() -> None:
    code = (
        "import sys; sys.modules['av'] = None\n"
        "from mediaref import MediaRef, DataURI, batch_decode\n"
        "from mediaref.video_decoder import BatchDecodingStrategy\n"
        "print(BatchDecodingStrategy.SEQUENTIAL_PER_KEYFRAME_BLOCK.name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "SEQUENTIAL_PER_KEYFRAME_BLOCK"


def test_public_api_is_sorted_and_complete() -> None:
    import mediaref

    assert mediaref.__all__ == sorted(mediaref.__all__)
    assert all(hasattr(mediaref, name) for name in mediaref.__all__)


@pytest.mark.parametrize("foreign", ["core.py", "video_decoder/__init__.py"])
def test_a_folder_mixed_with_pypi_mediaref_refuses_to_import(tmp_path: Path, foreign: str) -> None:
    package = tmp_path / "mediaref"
    shutil.copytree(Path(mediaref.__file__).parent, package)
    (package / foreign).parent.mkdir(exist_ok=True)
    (package / foreign).write_text("# a file of the Pydantic-based PyPI mediaref\n")
    code = "import mediaref"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    name = foreign.split("/", maxsplit=1)[0]
    assert last == (
        f"ImportError: {package} mixes mediaref-core with the PyPI 'mediaref' package (its "
        f"files {name} are there); both install the 'mediaref' import package, so uninstall "
        "both and reinstall mediaref-core: pip uninstall -y mediaref mediaref-core, then "
        "install mediaref-core again (see its README)"
    )
    (package / foreign).unlink()
    if "/" in foreign:
        (package / foreign).parent.rmdir()
    ok = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert ok.returncode == 0, ok.stderr


def test_integration_modules_import_their_library_on_first_use_only() -> None:
    heavy = "{'numpy', 'pyarrow', 'datasets', 'pydantic', 'mediaref.hf', 'mediaref.lerobot'}"
    code = (
        "import sys, mediaref\n"
        f"before = sorted({heavy} & sys.modules.keys())\n"
        "import mediaref.hf, mediaref.lerobot\n"
        f"after = sorted({heavy} & sys.modules.keys())\n"
        "print(before, after)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['mediaref.hf', 'mediaref.lerobot']"
