"""`MediaRef` in Pydantic models: its core schema, and Pydantic's lax validation of it.

Imported only by Pydantic (through ``MediaRef.__get_pydantic_core_schema__``) and by the
lax fallback of ``MediaRef.model_validate``: ``import mediaref`` never imports Pydantic.

The schema is the one Pydantic would build for the Pydantic-based package's model
(``uri: str``, ``pts_ns: Optional[int] = None``) out of Pydantic's own primitives, so that
lax mode, error locations (``obs.pts_ns``), ``exclude_none`` and JSON schemas in both modes
are Pydantic's, not an imitation of them. As with that package's nested model, the fields
of a reference are validated in lax mode even inside a ``strict=True`` model.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from ._errors import InvalidReferenceError
from ._pts import PTS_NS_MAX, PTS_NS_MIN

if TYPE_CHECKING:
    from pydantic_core import CoreSchema

    from ._ref import MediaRef

__all__ = ["core_schema_of", "validate_lax"]


def _uri_in(value: Any) -> Any:
    # The Pydantic-based package took a DataURI for `uri` (a BeforeValidator); so do we,
    # and paths, as MediaRef(...) does.
    if value.__class__ is str:
        return value
    from ._datauri import DataURI

    if isinstance(value, DataURI):
        return value.uri
    if isinstance(value, os.PathLike) and isinstance(path := os.fspath(value), str):
        return path
    return value


def _fields_schema(title: str) -> CoreSchema:
    from pydantic_core import core_schema as cs

    pts = cs.with_default_schema(
        cs.nullable_schema(cs.int_schema(ge=PTS_NS_MIN, le=PTS_NS_MAX)), default=None
    )
    return cs.typed_dict_schema(
        {
            "uri": cs.typed_dict_field(
                cs.no_info_before_validator_function(_uri_in, cs.str_schema()),
                metadata={"pydantic_js_updates": {"title": "Uri"}},
            ),
            "pts_ns": cs.typed_dict_field(
                pts, required=False, metadata={"pydantic_js_updates": {"title": "Pts Ns"}}
            ),
        },
        config={"title": title},
        metadata={"pydantic_js_updates": {"title": title}},
    )


def _dump(ref: MediaRef) -> dict[str, Any]:
    return {"uri": ref.uri, "pts_ns": ref.pts_ns}


def core_schema_of(cls: type[MediaRef]) -> CoreSchema:
    """Return the Pydantic core schema of `cls` (`MediaRef` or a subclass)."""
    from pydantic_core import core_schema as cs

    def build(value: Any, handler: cs.ValidatorFunctionWrapHandler) -> MediaRef:
        if value.__class__ is dict:
            # Already the exact types: what Pydantic would pass through unchanged, built
            # without its typed-dict pass (a third of the cost); anything else, or a value
            # out of range, goes through Pydantic for its lax rules and located errors.
            uri, pts_ns = value.get("uri"), value.get("pts_ns")
            if uri.__class__ is str and (pts_ns is None or pts_ns.__class__ is int):
                with contextlib.suppress(InvalidReferenceError):
                    return cls(uri, pts_ns)
        elif isinstance(value, cls):
            return value
        if not isinstance(value, (Mapping, str, bytes)) and hasattr(value, "uri"):
            value = {"uri": value.uri, "pts_ns": getattr(value, "pts_ns", None)}
        fields = handler(value)
        return cls(fields["uri"], fields.get("pts_ns"))

    fields = _fields_schema(cls.__name__)
    return cs.no_info_wrap_validator_function(
        build,
        fields,
        serialization=cs.plain_serializer_function_ser_schema(_dump, return_schema=fields),
        ref=f"{cls.__module__}.{cls.__qualname__}",
    )


@functools.cache
def _adapter(cls: type[MediaRef]) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def validate_lax(
    cls: type[MediaRef], mode: Literal["python", "json"], data: Any
) -> MediaRef | ValueError | None:
    """Validate `data` as a Pydantic model field of type `MediaRef` would (lax mode).

    Returns:
        The reference; or the ``pydantic.ValidationError`` (a `ValueError`) Pydantic
        raised; or `None` if Pydantic is not installed.
    """
    try:
        adapter = _adapter(cls)
    except ImportError:
        return None
    try:
        if mode == "json":
            return adapter.validate_json(data)  # type: ignore[no-any-return]
        return adapter.validate_python(data)  # type: ignore[no-any-return]
    except ValueError as e:  # pydantic.ValidationError
        return e
