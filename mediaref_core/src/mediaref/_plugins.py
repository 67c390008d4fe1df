"""The plugin manager: lazy discovery through entry points, selection by name or priority."""

from __future__ import annotations

import difflib
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec
import pluggy

from . import hookspecs
from ._errors import (
    BackendNotInstalledError,
    InvalidOptionError,
    UnknownBackendError,
    install_hint,
    short_text,
)
from ._protocols import ByteSource, ImageBackend, ImageEncoder, Option, VideoBackend
from ._uri import parse_uri

__all__ = [
    "PluginInfo",
    "backends",
    "image_backend",
    "image_encoder",
    "invalid_option",
    "open_routed_source",
    "open_source",
    "plugins",
    "registry",
    "video_backend",
]

_GROUP = "mediaref"


class PluginInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An installed plugin and what it provides, as listed by `mediaref.plugins()`."""

    name: str
    """The entry-point name (``"builtin"`` for the core's own sources)."""
    distribution: str
    version: str
    video_backends: tuple[str, ...] = ()
    image_backends: tuple[str, ...] = ()
    image_encoders: tuple[str, ...] = ()
    opens_sources: bool = False
    source_options: tuple[str, ...] = ()
    """The options its byte source declares (`mediaref_source_options`)."""
    formats: tuple[str, ...] = ()
    error: str | None = None
    """Why the plugin failed to load; its hooks are then not used."""


def _load(infos: list[PluginInfo]) -> tuple[pluggy.PluginManager, dict[str, tuple[str, str]]]:
    """Register the core's hooks and every entry point's; note failures in `infos`."""
    import importlib.metadata  # ~15 ms: paid at the first decode, not at import

    pm = pluggy.PluginManager(_GROUP)
    pm.add_hookspecs(hookspecs)
    from . import _builtin

    pm.register(_builtin, name="builtin")
    dists: dict[str, tuple[str, str]] = {"builtin": ("mediaref-core", _version())}
    for ep in sorted(importlib.metadata.entry_points(group=_GROUP), key=lambda e: e.name):
        dist = (ep.dist.name, ep.dist.version) if ep.dist else ("?", "?")
        if pm.has_plugin(ep.name):
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as e:  # a broken plugin must not break the others
            msg = f"{type(e).__name__}: {e}"
            warnings.warn(
                f"mediaref plugin {ep.name!r} ({dist[0]}) failed to load: {msg}",
                RuntimeWarning,
                stacklevel=5,
            )
            infos.append(PluginInfo(name=ep.name, distribution=dist[0], version=dist[1], error=msg))
            continue
        dists[ep.name] = dist
    return pm, dists


class _Registry:
    def __init__(self) -> None:
        infos: list[PluginInfo] = []
        pm, dists = _load(infos)
        pm.check_pending()
        self.pm = pm
        self.source_options: dict[str, tuple[Option, ...]] = {}
        self.video: list[tuple[VideoBackend, str]] = []
        self.image: list[tuple[ImageBackend, str]] = []
        self.encoders: list[tuple[ImageEncoder, str]] = []
        for name, plugin in pm.list_name_plugin():
            hooks = {impl.function.__name__ for impl in _impls(pm, plugin)}
            video = self._collect(plugin, "mediaref_video_backends", hooks, self.video, name)
            image = self._collect(plugin, "mediaref_image_backends", hooks, self.image, name)
            enc = self._collect(plugin, "mediaref_image_encoders", hooks, self.encoders, name)
            if "mediaref_source_options" in hooks:
                self.source_options[name] = tuple(plugin.mediaref_source_options())  # type: ignore[attr-defined]
            dist = dists.get(name, ("?", "?"))
            infos.append(
                PluginInfo(
                    name=name,
                    distribution=dist[0],
                    version=dist[1],
                    video_backends=tuple(b.name for b in video),
                    image_backends=tuple(b.name for b in image),
                    image_encoders=tuple(b.name for b in enc),
                    opens_sources="mediaref_open_source" in hooks,
                    source_options=tuple(o.name for o in self.source_options.get(name, ())),
                    formats=tuple(sorted(_formats(video, image, enc))),
                )
            )
        for lst in (self.video, self.image, self.encoders):
            lst.sort(key=lambda pair: (-pair[0].priority, pair[0].name))
        self.infos = tuple(sorted(infos, key=lambda i: i.name))
        self._index_options()
        self.openers = _openers(pm, self.source_options)
        # (kind, scheme) -> the backends that read the scheme, best first.
        self.routes: dict[tuple[str, str], tuple[VideoBackend | ImageBackend, ...]] = {}

    def _index_options(self) -> None:
        decoders: list[VideoBackend | ImageBackend] = [b for b, _ in self.video]
        decoders += [b for b, _ in self.image]
        sourced = frozenset(o.name for opts in self.source_options.values() for o in opts)
        self.source_option_names = sourced
        # Every option some installed backend or source declares.
        self.option_names = sourced | {o.name for b in decoders for o in b.options}

    @staticmethod
    def _collect(
        plugin: object, hook: str, hooks: set[str], into: list[tuple[_B, str]], name: str
    ) -> list[_B]:
        if hook not in hooks:
            return []
        found = list(getattr(plugin, hook)())
        into.extend((b, name) for b in found)
        return found


_B = TypeVar("_B", VideoBackend, ImageBackend, ImageEncoder)


_Opener = tuple[Callable[..., Any], "frozenset[str] | None"]


def _openers(pm: pluggy.PluginManager, declared: dict[str, tuple[Option, ...]]) -> list[_Opener]:
    """List the `mediaref_open_source` implementations in pluggy's call order.

    Each comes with the option names its plugin declares (`None`: it takes no
    ``options`` argument).
    """
    out: list[_Opener] = []
    for impl in reversed(pm.hook.mediaref_open_source.get_hookimpls()):
        names = frozenset(o.name for o in declared.get(impl.plugin_name, ()))
        out.append((impl.function, names if "options" in impl.argnames else None))
    return out


def _formats(
    video: list[VideoBackend], image: list[ImageBackend], enc: list[ImageEncoder]
) -> set[str]:
    return (
        {f for b in video for f in b.formats}
        | {f for b in image for f in b.formats}
        | {f for e in enc for f in e.formats}
    )


def _impls(pm: pluggy.PluginManager, plugin: object) -> list[pluggy.HookImpl]:
    return [
        impl
        for caller in pm.get_hookcallers(plugin) or []
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin
    ]


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("mediaref-core")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


_lock = threading.Lock()
_registry: _Registry | None = None


def _get() -> _Registry:
    global _registry
    reg = _registry
    if reg is None:
        with _lock:
            if _registry is None:
                _registry = _Registry()
            reg = _registry
    return reg


def reset_plugins() -> None:
    """Forget loaded plugins; the next need discovers them again (for tests)."""
    global _registry
    with _lock:
        _registry = None


def plugin_manager() -> pluggy.PluginManager:
    """The process's pluggy manager, loading plugins on first call."""
    return _get().pm


def registry() -> _Registry:
    """The process's registry of plugins, loading them on first call."""
    return _get()


def backends() -> list[tuple[str, VideoBackend | ImageBackend, str]]:
    """List ``(kind, backend, plugin name)`` of every decoder, videos then images, best first."""
    reg = _get()
    return [("video", b, p) for b, p in reg.video] + [("image", b, p) for b, p in reg.image]


def plugins() -> tuple[PluginInfo, ...]:
    """List installed plugins, what each provides, and any that failed to load."""
    return _get().infos


def _describe(pairs: Sequence[tuple[object, str]], reg: _Registry) -> str:
    dists = {i.name: f"{i.distribution} {i.version}" for i in reg.infos}
    return ", ".join(f"{b.name!r} ({dists.get(p, p)})" for b, p in pairs) or "none"  # type: ignore[attr-defined]


def _select(
    pairs: list[tuple[_B, str]], name: str | None, what: str, install: str, reg: _Registry
) -> _B:
    if name is None:
        if pairs:
            return pairs[0][0]
        raise BackendNotInstalledError(none_installed(what, install))
    for backend, _ in pairs:
        if backend.name == name:
            return backend
    role = "encoder" if what.endswith("encoder") else "decoder"
    elsewhere = _ELSEWHERE.get(name.lower())
    hint = f" ({elsewhere} is not installed as a mediaref backend)" if elsewhere else ""
    raise UnknownBackendError(
        f"Unknown {role} backend {short_text(name)!r}{hint}: no installed {what} has this name; "
        f"installed: {_describe(pairs, reg)}" + (f"; {install_hint(install)}" if not pairs else "")
    )


# Backends of other video libraries that code written for PyPI `mediaref` names.
_ELSEWHERE = {"torchcodec": "TorchCodec", "decord": "decord", "opencv": "OpenCV"}


def none_installed(what: str, install: str) -> str:
    """Say that no `what` is installed and how to install `install`."""
    # 0.4.4 users match "Video frame extraction requires ... video ... extra".
    lead = "Video frame extraction requires the 'video' extra: " if what == "video decoder" else ""
    return f"{lead}no {what} is installed; {install_hint(install)}"


def video_backend(name: str | None = None) -> VideoBackend:
    """Return the video backend called `name`, else the highest-priority one.

    Raises:
        BackendNotInstalledError: None is installed, or none has that name.
    """
    reg = _get()
    return _select(reg.video, name, "video decoder", "mediaref-av", reg)


def image_backend(name: str | None = None) -> ImageBackend:
    """Return the image decoder called `name`, else the highest-priority one.

    Raises:
        BackendNotInstalledError: None is installed, or none has that name.
    """
    reg = _get()
    return _select(reg.image, name, "image decoder", "mediaref-pil", reg)


def image_encoder(name: str | None = None) -> ImageEncoder:
    """Return the image encoder called `name`, else the highest-priority one.

    Raises:
        BackendNotInstalledError: None is installed, or none has that name.
    """
    reg = _get()
    return _select(reg.encoders, name, "image encoder", "mediaref-pil", reg)


def open_source(uri: str, **options: Any) -> ByteSource:
    """Open the bytes `uri` names through the source hooks (plugins first, core last).

    Args:
        uri: A path or URI.
        **options: Options that source plugins declare (`mediaref_source_options`);
            each plugin receives only its own.

    Raises:
        InvalidReferenceError: Malformed URI.
        InvalidOptionError: An option that no installed source declares.
        BackendNotInstalledError: No plugin handles the URI's scheme.
        SourceNotFoundError, SourceUnreadableError: From the source.
    """
    if options:
        known = _get().source_option_names
        for name in options:
            if name not in known:
                raise invalid_option(name, known)
    return open_routed_source(uri, options)


def open_routed_source(uri: str, options: Mapping[str, Any]) -> ByteSource:
    """Open `uri`; `options` may hold any declared option, each opener gets its own."""
    parsed = parse_uri(uri)
    for function, names in _get().openers:
        if names is None:
            source = function(uri=uri, parsed=parsed)
        else:
            mine = {k: options[k] for k in names if k in options} if options else {}
            source = function(uri=uri, parsed=parsed, options=mine)
        if source is not None:
            return source  # type: ignore[no-any-return]
    raise BackendNotInstalledError(
        f"no installed plugin reads {short_text(parsed.scheme)!r} URIs (the core reads paths, "
        "file:, data:, http: and https:); install a source plugin for this scheme (object "
        "stores such as s3:, gs:, az:, hf:: pip install ./mediaref_fsspec from a mediaref "
        "checkout)",
        uri=uri,
    )


def invalid_option(name: str, known: Iterable[str]) -> InvalidOptionError:
    """Return the error for option `name`, naming the close matches among `known`."""
    names = sorted(known)
    # A long name matches nothing, and comparing it would cost its length squared.
    close = (
        tuple(difflib.get_close_matches(name, names, n=3, cutoff=0.6)) if len(name) < 100 else ()
    )
    return InvalidOptionError(name, close, tuple(names))
