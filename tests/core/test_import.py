from __future__ import annotations

import subprocess
import sys


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
