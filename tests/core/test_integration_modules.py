"""mediaref.hf and mediaref.lerobot say what to install when their library is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(code: str, cwd: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd
    )
    return out.stdout.strip()


def test_hf_without_datasets_names_the_package(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['datasets'] = None\n"
        "from mediaref import BackendNotInstalledError\n"
        "from mediaref.hf import MediaRefFeature, with_refs\n"
        "for f in (MediaRefFeature, lambda: with_refs(object(), 'frame')):\n"
        "    try:\n        f()\n"
        "    except BackendNotInstalledError as e:\n        print(isinstance(e, ImportError), e)"
    )
    lines = run(code, tmp_path).splitlines()
    assert (
        lines
        == ["True mediaref.hf needs the datasets package; install it with: pip install datasets"]
        * 2
    )


def test_lerobot_without_pyarrow_names_the_package(tmp_path: Path) -> None:
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "info.json").write_text(
        '{"codebase_version": "v3.0", "fps": 30, "video_path": "v.mp4", "features": {}}'
    )
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "from mediaref import BackendNotInstalledError\n"
        "from mediaref.lerobot import LeRobotVideos\n"
        "try:\n    LeRobotVideos.from_root('.')\n"
        "except BackendNotInstalledError as e:\n    print(e)"
    )
    assert run(code, tmp_path) == (
        "reading meta/episodes needs pyarrow; install it with: pip install pyarrow"
    )
