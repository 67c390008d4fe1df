"""Whether video decoding is installed: the flags mediaref 0.4.4 code reads.

0.4.4 set ``HAS_VIDEO`` from ``import av``; here it says whether any installed plugin
provides a video backend, found once, when this module is first imported (at the first
video decode, never at ``import mediaref``).
"""

from __future__ import annotations

from ._errors import BackendNotInstalledError
from ._plugins import none_installed, plugins

__all__ = ["HAS_VIDEO", "VIDEO_ERROR", "require_video"]


def _detect() -> tuple[bool, str | None]:
    infos = plugins()
    if any(info.video_backends for info in infos):
        return True, None
    broken = [f"{i.name} ({i.distribution}): {i.error}" for i in infos if i.error]
    return False, "; ".join(broken) or None


HAS_VIDEO, VIDEO_ERROR = _detect()
"""Whether a video backend is installed; `VIDEO_ERROR` says why a plugin failed to load."""


def require_video() -> None:
    """Raise if no video backend is installed.

    Raises:
        BackendNotInstalledError: Naming the distribution to install and why.
    """
    if not HAS_VIDEO:
        why = f" (plugins that failed to load: {VIDEO_ERROR})" if VIDEO_ERROR else ""
        raise BackendNotInstalledError(none_installed("video decoder", "mediaref-av") + why)
