"""Refuse to run from a folder shared with the Pydantic-based PyPI ``mediaref`` package.

Both install the import package ``mediaref``: installed over each other, their files mix in
one folder (``pip uninstall`` of either then removes files of the other), and its
``video_decoder/`` package shadows our ``video_decoder.py``. One listing of the folder at
import tells; the error says what to uninstall.
"""

from __future__ import annotations

import os

__all__ = ["check_not_mixed"]

# Files of PyPI mediaref 0.4.x and 2.x that mediaref-core never ships.
_FOREIGN = frozenset(
    {"core.py", "data_uri.py", "batch.py", "resource_cache.py", "cached_av", "video_decoder"}
)


def check_not_mixed(directory: str) -> None:
    """Raise if `directory` (the ``mediaref`` package folder) holds PyPI mediaref's files.

    Raises:
        ImportError: Naming the foreign files and the commands that repair the install.
    """
    try:
        names = set(os.listdir(directory))
    except OSError:
        return  # a zip or frozen import: there is no folder to mix files in
    foreign = names & _FOREIGN
    if foreign:
        raise ImportError(
            f"{directory} mixes mediaref-core with the PyPI 'mediaref' package (its files "
            f"{', '.join(sorted(foreign))} are there); both install the 'mediaref' import "
            "package, so uninstall both and reinstall mediaref-core: pip uninstall -y "
            "mediaref mediaref-core, then install mediaref-core again (see its README)"
        )


check_not_mixed(os.path.dirname(os.path.abspath(__file__)))
