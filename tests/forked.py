"""Run a function in a forked child (as a DataLoader worker is made) and get its answer."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

__all__ = ["in_forked_child"]


def in_forked_child(fn: Callable[[], Any]) -> Any:
    """Fork, call `fn` in the child, return what it returned (through JSON).

    The child leaves with ``os._exit`` (none of the parent's cleanup runs twice); an
    exception in it comes back as its repr, which no test expects.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            msg = json.dumps(fn())
        except BaseException as e:
            msg = json.dumps(repr(e))
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        got = json.loads(f.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return got
