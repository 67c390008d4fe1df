"""`iter_decode`: results in request order while the next requests decode on idle cores."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_all
from functools import partial
from typing import Any

from ._batch import OnError, batch_decode
from ._errors import MediaRefError, short_repr
from ._protocols import ImageFormat, check_image_format
from ._ref import MediaRef
from ._routing import check_options
from ._threads import submit

__all__ = ["iter_decode"]

Request = MediaRef | Sequence[MediaRef]


def iter_decode(
    requests: Iterable[Request],
    *,
    ahead: int | None = None,
    decoder: str | None = None,
    format: ImageFormat = "rgb",
    on_error: OnError = "raise",
    with_pts: bool = False,
    out: Callable[[Any], Any] | None = None,
    **options: Any,
) -> Iterator[Any]:
    """Yield the decoded result of each request, in order, decoding the next ones meanwhile.

    A request is a `MediaRef` (its result is one array) or a sequence of them (a list of
    arrays, as `batch_decode` returns). While the caller works on one result, up to
    `ahead` later requests decode on other threads (each request on one thread), so a
    loop of one-frame reads uses idle cores. `requests` is read lazily: at most `ahead`
    requests beyond the one being yielded are taken from it, and at most that many
    results wait, so memory stays bounded for an endless iterable.

    Args:
        requests: `MediaRef`s, or sequences of them, in the order to yield them.
        ahead: Requests decoded ahead of the one yielded; default: the CPUs this
            process may use, at least 1. ``0`` decodes each request when it is reached.
        decoder: As for `batch_decode`.
        format: As for `batch_decode`.
        on_error: ``"raise"`` raises a failing request's first error at its position
            (after every earlier result was yielded; requests decoding ahead are
            cancelled or waited for); ``"return"`` yields the `MediaRefError` in place.
        with_pts: As for `batch_decode`: results as `DecodedFrame`s.
        out: Called with each request, in the thread that decodes it, just before: returns
            where its frames go (`batch_decode`'s ``out``; for a single `MediaRef`, the
            frame's array) or `None` for new arrays.
        **options: As for `batch_decode`.

    Raises:
        InvalidOptionError: An option that no installed backend declares (at the call).
        MediaRefError: With ``on_error="raise"``, at the failing request's position.
    """
    if on_error not in ("raise", "return"):
        raise ValueError(f"on_error must be 'raise' or 'return', got {short_repr(on_error)}")
    check_image_format(format)
    check_options(options)
    if ahead is None:
        ahead = max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1, 1)
    if type(ahead) is not int or ahead < 0:
        raise ValueError(f"ahead must be an int >= 0, got {short_repr(ahead)}")

    def decode(request: Request) -> Any:
        # One thread per request: `ahead` requests in parallel is the parallelism, and a
        # request never waits for threads of the shared pool that others hold.
        single = isinstance(request, MediaRef)
        refs: list[MediaRef] = [request] if isinstance(request, MediaRef) else list(request)
        dest = None if out is None else out(request)
        if single and dest is not None:
            dest = [dest]
        result = batch_decode(
            refs,
            decoder=decoder,
            format=format,
            on_error="return",
            max_workers=1,
            with_pts=with_pts,
            out=dest,
            **options,
        )
        return result[0] if single else result

    return _ordered(iter(requests), decode, ahead, raise_errors=on_error == "raise")


def _ordered(
    requests: Iterator[Request],
    decode: Callable[[Request], Any],
    ahead: int,
    *,
    raise_errors: bool,
) -> Iterator[Any]:
    pending: deque[Future[Any]] = deque()
    exhausted = False

    def refill() -> None:
        nonlocal exhausted
        while not exhausted and len(pending) <= ahead:
            try:
                request = next(requests)
            except StopIteration:
                exhausted = True
                return
            pending.append(submit(partial(decode, request)))

    try:
        refill()
        while pending:
            result = pending.popleft().result()
            if raise_errors:
                _raise_first(result)
            yield result  # meanwhile the next `ahead` requests decode
            refill()
    finally:
        for future in pending:
            future.cancel()
        wait_all(pending)  # decoders that already started finish and return their containers


def _raise_first(result: Any) -> None:
    items = result if isinstance(result, list) else [result]
    for item in items:
        if isinstance(item, MediaRefError):
            raise item
