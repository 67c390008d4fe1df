"""Run the test suite of PyPI ``mediaref`` 0.4.4 against the installed mediaref packages.

The suite is the executable form of 0.4.4's public API, which this project is a drop-in
for. The script downloads the 0.4.4 source distribution from the package registry (pip
download, checked against its SHA-256), unpacks only its ``tests/`` into a temporary
directory, and runs them with this interpreter, so ``import mediaref`` finds ours.

Usage: python tests/compat/run_mediaref_044.py [extra pytest args]

Needs ``pytest``, ``opencv-python-headless`` (the suite builds inputs with cv2) and
``pydantic`` (one test catches ``pydantic.ValidationError``), all in requirements-dev.txt.
Exits with pytest's status, or 1 if the run executed fewer tests than the suite holds.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

VERSION = "0.4.4"
SDIST_SHA256 = "10e6f214fe240baab0711694a5477ca76a0fa9a94ec36f79d440f92c89b0ea10"

# Left out, each with its reason; nothing else may be.
_REMOTE = "tests/test_integration.py::TestRemoteURLIntegration::"
EXCLUDED = {
    # Fetch from the internet (CI reaches only the package registries).
    _REMOTE + "test_remote_url_loading": "fetches from httpbingo.org",
    _REMOTE + "test_remote_url_to_pil": "fetches from httpbingo.org",
    _REMOTE + "test_remote_url_embedding": "fetches from httpbingo.org",
    _REMOTE + "test_remote_video_loading": "fetches from huggingface.co",
    "tests/test_loading.py::TestToNdarrayImage::test_to_ndarray_from_remote_url": (
        "fetches from httpbingo.org"
    ),
    "tests/test_loading.py::TestToPilImage::test_to_pil_image_from_remote_url": (
        "fetches from httpbingo.org"
    ),
}
IGNORED_MODULES = {
    "tests/test_internal.py": "tests 0.4.4's private module mediaref._internal",
}
# The suite's tests minus the ones left out above; Windows-only tests skip on POSIX.
EXPECTED_RUN = 213


def download(into: Path) -> Path:
    """Fetch the sdist with pip and check its digest."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"mediaref=={VERSION}",
            "-d",
            str(into),
        ],
        check=True,
    )
    (sdist,) = into.glob(f"mediaref-{VERSION}.tar.gz")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist.name}: sha256 {digest}, expected {SDIST_SHA256}")
    return sdist


def unpack_tests(sdist: Path, into: Path) -> Path:
    """Extract only ``tests/`` (0.4.4's own ``src/`` must not shadow our packages)."""
    prefix = f"mediaref-{VERSION}/tests/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix) and m.isfile()]
        for m in members:
            m.name = m.name[len(f"mediaref-{VERSION}/") :]
        tar.extractall(into, members=members, filter="data")
    return into / "tests"


def main(argv: list[str]) -> int:
    """Download, unpack and run the suite; return the exit status."""
    with tempfile.TemporaryDirectory(prefix="mediaref-044-") as tmp:
        root = Path(tmp)
        tests = unpack_tests(download(root / "dist"), root / "suite")
        report = root / "report.xml"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(tests),
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tests.parent),
            "-o",
            "markers=video: needs PyAV",
            f"--junitxml={report}",
            "-q",
            "-rs",
            *(f"--ignore={tests.parent / m}" for m in IGNORED_MODULES),
            *(f"--deselect={t}" for t in EXCLUDED),
            *argv,
        ]
        status = subprocess.run(cmd, cwd=tests.parent, check=False).returncode
        if status != 0 or argv:
            return status
        suite = ET.parse(report).getroot().find("testsuite")
        assert suite is not None
        ran = int(suite.get("tests", 0)) - int(suite.get("skipped", 0))
        if ran < EXPECTED_RUN:
            print(f"mediaref {VERSION} suite ran {ran} tests, expected {EXPECTED_RUN}")
            return 1
        print(
            f"mediaref {VERSION} suite: {ran} tests ran and passed; left out: "
            + ", ".join(sorted({*EXCLUDED.values(), *IGNORED_MODULES.values()}))
        )
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
