"""A bare msgspec Struct with the same two fields and wire format: the serialization floor."""

from __future__ import annotations

from typing import Any

import msgspec
from _common import msgspec_serialization, versions


class Ref(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    uri: str
    pts_ns: int | None = None


class Adapter:
    label = "bare msgspec.Struct"

    def versions(self) -> dict[str, str]:
        return versions("msgspec")

    def serialization(self, n: int, reps: int) -> dict[str, Any]:
        return msgspec_serialization(Ref, n, reps)
