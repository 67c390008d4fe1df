"""How many codec threads a DataLoader worker (or Ray task) may use: the CPU budget rule."""

from __future__ import annotations

import os

__all__ = ["threads_per_worker", "usable_cpus"]


def usable_cpus() -> int:
    """Return the CPUs this process may run on (its affinity mask, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_worker(num_workers: int, cpus: int | None = None, *, concurrent: int = 1) -> int:
    """Return the codec threads one decode may use so that workers share the CPUs.

    ``max(1, cpus // (num_workers * concurrent))``: `num_workers` processes, each with up
    to `concurrent` decodes at once (1, or ``ahead + 1`` when decoding ahead), get an
    equal share of the `cpus`, at least one thread; so with as many workers as cores or
    more, each decode runs on its calling thread alone.

    Args:
        num_workers: Decoding processes sharing the CPUs (a DataLoader's ``num_workers``;
            ``0`` counts as one, the main process).
        cpus: CPUs to share; default: `usable_cpus` of this process.
        concurrent: Decodes one process runs at the same time.
    """
    if cpus is None:
        cpus = usable_cpus()
    return max(1, cpus // (max(num_workers, 1) * max(concurrent, 1)))
