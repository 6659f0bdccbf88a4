"""Plugin loading and the registry of everything plugins contribute.

Built-in plugins (``benchkit.default_plugins``) are registered exactly like external ones. External plugins come
from the ``benchkit`` entry-point group, loaded one at a time so that a broken plugin is reported and skipped instead
of breaking every command (pluggy's own loader would raise); ``BENCHKIT_STRICT_PLUGINS=1`` makes such failures
fatal. ``BENCHKIT_PLUGINS=mod1,mod2`` registers extra modules by import path (handy for local plugins and tests;
worker processes inherit it).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pluggy

from benchkit import hookspecs
from benchkit.errors import PluginError

ENTRY_POINT_GROUP = "benchkit"
DEFAULT_PLUGINS = ("benchkit.default_plugins.settings", "benchkit.default_plugins.executors")
KINDS = ("datasets", "detectors", "backbones", "settings", "executors")


@dataclass
class PluginInfo:
    name: str  # entry-point name or module path
    distribution: str | None  # distribution that ships it; None for BENCHKIT_PLUGINS modules
    version: str | None
    module: str
    registers: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None  # set when loading failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "registers": self.registers,
            "error": self.error,
        }


class Registry:
    """Specs by kind and name, and which plugin registered each."""

    def __init__(self) -> None:
        self.specs: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self.owner: dict[tuple[str, str], str] = {}
        self.plugins: list[PluginInfo] = []
        self.importable: set[str] = set()  # modules of loaded entry points / BENCHKIT_PLUGINS: what `only` can name

    # typed views --------------------------------------------------------------------------------------------
    @property
    def datasets(self) -> dict[str, Any]:
        return self.specs["datasets"]

    @property
    def detectors(self) -> dict[str, Any]:
        return self.specs["detectors"]

    @property
    def backbones(self) -> dict[str, Any]:
        return self.specs["backbones"]

    @property
    def settings(self) -> dict[str, Any]:
        return self.specs["settings"]

    @property
    def executors(self) -> dict[str, Any]:
        return self.specs["executors"]

    @property
    def failed_plugins(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.error]

    def add(self, kind: str, spec: Any, plugin: str) -> None:
        name = getattr(spec, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {kind[:-1]} without a name: {spec!r}")
        if name in self.specs[kind]:
            other = self.owner[(kind, name)]
            raise PluginError(
                f"duplicate {kind[:-1]} name {name!r}: registered by plugin {other!r} and by plugin {plugin!r}; "
                f"uninstall one of them or rename"
            )
        self.specs[kind][name] = spec
        self.owner[(kind, name)] = plugin

    def get(self, kind: str, name: str) -> Any:
        try:
            return self.specs[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.specs[kind])) or "none installed"
            raise PluginError(f"unknown {kind[:-1]} {name!r}; known {kind}: {known}") from None

    def detector_variant(self, name: str) -> tuple[Any, str | None]:
        """Resolve ``detector`` or ``detector:backbone`` to (spec, backbone or None).

        A backbone is valid when the detector lists it or accepts its kind (``DetectorSpec.backbone_kinds``)."""
        base, _, backbone = name.partition(":")
        spec = self.get("detectors", base)
        if not backbone:
            return spec, None
        known = self.backbones.get(backbone)
        if backbone in spec.backbones or (known is not None and known.kind in spec.backbone_kinds):
            return spec, backbone
        usable = sorted(set(spec.backbones) | {b for b, s in self.backbones.items() if s.kind in spec.backbone_kinds})
        raise PluginError(f"detector {base!r} has no backbone {backbone!r}; choose one of: {', '.join(usable) or 'none'}")


def accepts_param(factory: Any, name: str) -> bool:
    """Whether a plugin factory takes keyword ``name`` (explicitly or through ``**kwargs``): the harness passes
    ``seed``, ``device`` and the like only to factories that declare them."""
    import inspect

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _strict() -> bool:
    return os.environ.get("BENCHKIT_STRICT_PLUGINS", "").lower() in ("1", "true", "yes")


def _plugin_modules() -> list[tuple[str, str | None, str | None, Any]]:
    """(name, distribution, version, loader) for every entry point and BENCHKIT_PLUGINS module."""
    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        found.append((ep.name, dist.name if dist else None, dist.version if dist else None, ep))
    for mod in filter(None, (m.strip() for m in os.environ.get("BENCHKIT_PLUGINS", "").split(","))):
        found.append((mod, None, None, mod))
    return found


def build_registry(extra_plugins: list[Any] = (), only: Collection[str] | None = None) -> Registry:
    """Load every plugin and collect what it registers. ``extra_plugins`` are objects registered in-process.
    ``only``: load just the entry points and BENCHKIT_PLUGINS modules whose module is named there (besides
    benchkit's own), e.g. the plugins that register a job's dataset (`plugin_modules`), so that a process can read
    answers without importing any detector plugin."""
    pm = pluggy.PluginManager("benchkit")
    pm.add_hookspecs(hookspecs)
    registry = Registry()

    def add_plugin(obj: Any, info: PluginInfo) -> None:
        pm.register(obj, name=info.name)
        for kind in KINDS:
            names: list[str] = []
            hook = getattr(pm.hook, f"register_{kind}")
            impls = [i for i in hook.get_hookimpls() if i.plugin is obj]
            for impl in impls:
                impl.function(register=lambda spec, _kind=kind, _names=names: (
                    registry.add(_kind, spec, info.distribution or info.name), _names.append(spec.name)))
            if names:
                info.registers[kind] = names
        registry.plugins.append(info)

    for mod in DEFAULT_PLUGINS:
        add_plugin(importlib.import_module(mod), PluginInfo(mod, "benchkit", _own_version(), mod))

    seen_modules = set()
    for name, dist, version, loader in _plugin_modules():
        info = PluginInfo(name, dist, version, getattr(loader, "value", loader))
        if only is not None and info.module not in only:
            continue
        try:
            obj = importlib.import_module(loader) if isinstance(loader, str) else loader.load()
        except Exception as exc:  # a broken plugin must not break every command
            info.error = f"{type(exc).__name__}: {exc}"
            if _strict():
                raise PluginError(f"plugin {name!r} from {dist or 'BENCHKIT_PLUGINS'} failed to load: {info.error}") from exc
            warnings.warn(
                f"benchkit: skipping plugin {name!r} (distribution {dist or 'BENCHKIT_PLUGINS'}): {info.error}; "
                f"set BENCHKIT_STRICT_PLUGINS=1 to make this an error",
                stacklevel=2,
            )
            registry.plugins.append(info)
            continue
        if id(obj) in seen_modules:  # the same module listed twice (entry point and BENCHKIT_PLUGINS)
            continue
        seen_modules.add(id(obj))
        add_plugin(obj, info)
        registry.importable.add(info.module)

    for obj in extra_plugins:
        name = getattr(obj, "__name__", type(obj).__name__)
        add_plugin(obj, PluginInfo(name, None, None, name))
    return registry


def plugin_modules(registry: Registry, kind: str, name: str) -> tuple[str, ...]:
    """The modules of the plugins that register ``kind`` ``name`` (what `build_registry(only=...)` takes)."""
    return tuple(p.module for p in registry.plugins if name in p.registers.get(kind, ()) and not p.error)


def _own_version() -> str:
    from benchkit import __version__

    return __version__


_cached: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, built on first use."""
    global _cached
    if _cached is None or refresh:
        _cached = build_registry()
    return _cached


def set_registry(registry: Registry | None) -> None:
    """Replace the process-wide registry (tests use this with `build_registry(extra_plugins=...)`)."""
    global _cached
    _cached = registry

