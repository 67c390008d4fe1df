from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mediaref


def test_import_pulls_in_no_codec_or_array_library() -> None:
    heavy = "{'numpy', 'PIL', 'av', 'pydantic', 'pyarrow', 'tqdm'}"
    code = f"import sys, mediaref; print(sorted({heavy} & sys.modules.keys()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_integration_modules_import_their_library_on_first_use() -> None:
    code = (
        "import sys, mediaref.arrow, mediaref.io\n"
        "print(sorted({'numpy', 'pyarrow', 'tqdm'} & sys.modules.keys()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_pyarrow_is_a_sentence_naming_the_package() -> None:
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import mediaref, mediaref.arrow as ma\n"
        "try:\n    ma.to_arrow([mediaref.MediaRef('a.png')])\n"
        "except mediaref.BackendNotInstalledError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "pyarrow is needed to read and write references in Arrow and Parquet; "
        "install it with: pip install pyarrow"
    )


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


def _imports_of(path: Path, package: str) -> set[str]:
    """Sibling modules `path` imports anywhere (functions too), TYPE_CHECKING blocks aside."""
    import ast

    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found.update(
                    [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                )
            elif node.module and node.module.startswith(package + "."):
                found.add(node.module.split(".")[1])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


@pytest.mark.parametrize("package", ["mediaref", "mediaref_av", "mediaref_pil", "mediaref_fsspec"])
def test_modules_import_each_other_without_cycles(package: str) -> None:
    import importlib
    from graphlib import CycleError, TopologicalSorter

    folder = Path(importlib.import_module(package).__file__).parent  # type: ignore[arg-type]
    modules = {p.stem: p for p in folder.glob("*.py") if p.stem != "__init__"}
    graph = {m: _imports_of(p, package) & modules.keys() for m, p in modules.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as e:
        pytest.fail(f"import cycle in {package}: {' -> '.join(e.args[1])}")
    assert set(order) == set(modules)


def test_the_core_imports_no_codec_library_outside_the_kit() -> None:
    # Pillow and PyAV reach the core through plugins; only mediaref.testing encodes media.
    import ast

    folder = Path(mediaref.__file__).parent
    offenders = []
    for path in folder.rglob("*.py"):
        if "testing" in path.relative_to(folder).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"av", "PIL"}]
    assert offenders == []


@pytest.mark.parametrize("package", ["mediaref_av", "mediaref_pil", "mediaref_fsspec"])
def test_plugins_use_only_the_cores_public_names(package: str) -> None:
    import ast
    import importlib

    public_modules = {"mediaref", "mediaref.timeline", "mediaref.testing", "mediaref.hookspecs"}
    folder = Path(importlib.import_module(package).__file__).parent  # type: ignore[arg-type]
    private = []
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mediaref"):
                module = node.module or ""
                if module.split(".")[0] != "mediaref":
                    continue
                if module not in public_modules:
                    private.append(f"{path.name}: from {module}")
                elif module == "mediaref":
                    private += [
                        f"{path.name}: {a.name}"
                        for a in node.names
                        if a.name not in mediaref.__all__
                    ]
            elif isinstance(node, ast.Import):
                private += [
                    f"{path.name}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("mediaref._")
                ]
    assert private == []


def test_lazy_names_are_typed_exported_and_resolvable_alike() -> None:
    # The lazily imported names stand in three places that type checkers need (the
    # TYPE_CHECKING imports, __all__, the runtime table); this keeps them from drifting.
    import ast

    tree = ast.parse(Path(mediaref.__file__).read_text())
    typed = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for imp in node.body
        if isinstance(imp, ast.ImportFrom)
        for alias in imp.names
    }
    lazy = set(mediaref._LAZY)
    assert typed == lazy
    assert lazy <= set(mediaref.__all__)
    for name, module in mediaref._LAZY.items():
        assert getattr(importlib.import_module(f"mediaref.{module}"), name) is getattr(
            mediaref, name
        )


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


def test_torch_and_ray_modules_import_neither_library_nor_numpy() -> None:
    heavy = "{'numpy', 'torch', 'ray', 'pyarrow', 'av'}"
    code = (
        "import sys, mediaref, mediaref.torch, mediaref.ray\n"
        "from mediaref.torch import VideoBatchSampler, threads_per_worker\n"
        f"print(sorted({heavy} & sys.modules.keys()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
