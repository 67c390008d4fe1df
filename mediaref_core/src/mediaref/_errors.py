"""The one error tree of mediaref; every error is also the builtin a caller would catch."""

from __future__ import annotations

__all__ = [
    "BackendNotInstalledError",
    "InvalidOptionError",
    "InvalidOutputError",
    "InvalidReferenceError",
    "MediaRefError",
    "SourceNotFoundError",
    "SourceUnreadableError",
    "TimestampOutOfRangeError",
    "UndecodableMediaError",
    "UnknownBackendError",
    "UnsupportedSourceError",
    "install_hint",
    "short_repr",
    "short_text",
    "short_uri",
]

_SHORT = 80
_MESSAGE_MAX = 360
"""Longest message of an error before the URI and pts that follow it (~110), in characters."""


def short_uri(uri: str) -> str:
    """Return `uri` shortened for messages: ``data:`` URIs keep their head only."""
    if len(uri) <= _SHORT:
        return uri
    if uri[:5].lower() == "data:":
        comma = uri.find(",")
        head = uri[: comma + 1] if 0 <= comma < _SHORT else uri[:40]
        return f"{head}...({len(uri)} chars)"
    return f"{uri[:40]}...{uri[-30:]}"


def short_text(value: object, limit: int = 100) -> str:
    """Return ``str(value)`` cut to about `limit` characters, saying how long it was.

    For anything a user or a server chose (a scheme, an option or backend name, a
    parameter, a header) before it goes into a message.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    keep = max(limit - 30, 8)
    return f"{text[: keep * 2 // 3]}...({len(text)} chars)...{text[-(keep // 3) :]}"


def short_repr(value: object, limit: int = 100) -> str:
    """Return ``repr(value)`` cut as `short_text` does; a huge int is told by its size.

    (``repr`` of an int of over 4300 digits raises `ValueError`.)
    """
    if isinstance(value, int) and value.bit_length() > 128:
        return f"<an int of {value.bit_length()} bits>"
    return short_text(repr(value), limit)


def install_hint(distribution: str) -> str:
    """Return how to install `distribution`, one of this repository's (none is on PyPI)."""
    folder = distribution.replace("-", "_")
    return f"install {distribution} from a mediaref checkout: pip install ./{folder}"


def _where(uri: str | None, pts_ns: int | None) -> str:
    if uri is None:
        return ""
    return f" ({short_uri(uri)!r}" + (f" at pts_ns={pts_ns})" if pts_ns is not None else ")")


class MediaRefError(Exception):
    """Base of every error mediaref raises on purpose.

    Attributes:
        uri: The URI of the reference concerned, if any.
        pts_ns: The timestamp of the reference concerned, if any.
    """

    def __init__(self, message: str, *, uri: str | None = None, pts_ns: int | None = None) -> None:
        # Bounded whatever went into it: a message never grows with the input.
        message = short_text(message, _MESSAGE_MAX)
        self.message, self.uri, self.pts_ns = message, uri, pts_ns
        super().__init__(message + _where(uri, pts_ns))

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild, (type(self), self.message, self.uri, self.pts_ns, self.__dict__)

    def at(self, pts_ns: int | None, *, uri: str | None = None) -> MediaRefError:
        """Return this error as raised for the reference `(uri, pts_ns)` (a copy if it differs).

        A failure of a whole video (missing file, corrupt header) is reported for each
        timestamp asked of it, so each message names its own pts.
        """
        uri = self.uri if uri is None else uri
        if pts_ns == self.pts_ns and uri == self.uri:
            return self
        err = _rebuild(type(self), self.message, uri, pts_ns, self.__dict__)
        err.__cause__ = self.__cause__
        return err


def _rebuild(
    cls: type[MediaRefError],
    message: str,
    uri: str | None,
    pts_ns: int | None,
    state: dict[str, object],
) -> MediaRefError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    MediaRefError.__init__(err, message, uri=uri, pts_ns=pts_ns)
    return err


class InvalidReferenceError(MediaRefError, ValueError):
    """A malformed reference: bad `uri`, bad `pts_ns`, or a malformed ``data:`` URI."""


class BackendNotInstalledError(MediaRefError, ImportError):
    """No installed plugin can do what was asked; the message names what to install."""


class UnknownBackendError(BackendNotInstalledError, ValueError):
    """A backend was named (``decoder=``, ``encoder=``) that no installed plugin provides.

    Both an `ImportError` (something is not installed) and a `ValueError` (a bad argument,
    what mediaref 0.4.4 raised for an unknown decoder name).
    """


class SourceNotFoundError(MediaRefError, FileNotFoundError):
    """The file a reference points at does not exist (or the server answered 404)."""


class SourceUnreadableError(MediaRefError, OSError):
    """The source exists but cannot be read: network, permission, timeout, size limit."""


class UndecodableMediaError(MediaRefError, ValueError):
    """The bytes were read but are not decodable media: corrupt, truncated, unsupported."""


class TimestampOutOfRangeError(MediaRefError, ValueError):
    """`pts_ns` is outside the time range in which the video shows frames.

    Attributes:
        begin_ns: The first nanosecond at which a frame is on screen.
        end_ns: The first nanosecond after the last frame (exclusive).
    """

    def __init__(self, uri: str | None, pts_ns: int, begin_ns: int, end_ns: int) -> None:
        self.begin_ns, self.end_ns = begin_ns, end_ns
        super().__init__(
            f"pts_ns={pts_ns} is out of range: frames are shown in "
            f"[{begin_ns}, {end_ns}) ns = [{begin_ns / 1e9:.6f}, {end_ns / 1e9:.6f}) s",
            uri=uri,
            pts_ns=pts_ns,
        )


class UnsupportedSourceError(MediaRefError, ValueError):
    """A backend declines a source it cannot read; the core then tries the next backend.

    A backend raises it from ``open`` (video) or ``decode`` (image) when it sees, from the
    bytes, that the source is not for it. The core raises it when every backend that
    accepts the source declined it; the message then names each backend and its reason.
    """


class InvalidOutputError(MediaRefError, ValueError):
    """An ``out=`` destination that cannot take the frames.

    Not a writable C-contiguous uint8 buffer, not one slot per reference, or a slot whose
    shape is not the frame's.

    A wrong shape is only known once the frame's size is (at decode): that reference
    then fails alone, like any other bad reference of a batch.
    """


class InvalidOptionError(MediaRefError, TypeError):
    """A keyword option that no installed backend declares, e.g. a misspelt one.

    Attributes:
        option: The option given.
        close_matches: Declared options with a similar name, best first.
    """

    def __init__(self, option: str, close_matches: tuple[str, ...], known: tuple[str, ...]) -> None:
        self.option, self.close_matches, self.known = option, close_matches, known
        hint = f"; did you mean {' or '.join(map(repr, close_matches))}?" if close_matches else ""
        valid = short_text(", ".join(known) or "none", 200)
        super().__init__(
            f"unknown option {short_text(option)!r}{hint} (options of the installed backends: "
            f"{valid}; see: mediaref plugins -v)"
        )
