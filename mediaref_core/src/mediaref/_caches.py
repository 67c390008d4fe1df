"""`cleanup_cache`: give back what the installed plugins keep between calls."""

from __future__ import annotations

__all__ = ["cleanup_cache"]


def cleanup_cache() -> None:
    """Release every cache: decoders kept open, open containers, packet indexes, frame memory.

    Also stops the thread that releases idle memory (`limits.idle_release_s`).

    The name and behaviour of mediaref 0.4.4's ``cleanup_cache``; safe to call at any
    time, any number of times, from any thread. Only this process's caches are released;
    a later decode opens and indexes again.
    """
    from ._janitor import janitor
    from ._kept import close_all
    from ._plugins import plugin_manager

    janitor.stop()  # nothing is left for it; the next decode starts it again
    close_all()  # the decoders kept open between calls, then what they used
    plugin_manager().hook.mediaref_clear_caches()
    janitor.mark_released()
