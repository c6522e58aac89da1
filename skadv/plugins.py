"""The plugin manager, plugin loading and the registry of attacks, GANs and objectives.

Built-in components live in :mod:`skadv.default_plugins` and are registered through the
same hooks as third-party plugins, which are discovered through the ``skadv`` entry-point
group. Loading happens once, lazily, on the first registry look-up.

The environment variable ``SKADV_PLUGINS`` chooses which external plugins load: unset
loads all of them, an empty string loads none, and a comma-separated list loads only the
plugins named. A name means the distribution of that name, else the distribution
``skadv-<name>``, else the one distribution whose entry point has that name; a name that
could mean two distributions loads neither and is reported. No plugin is imported
unless it is chosen, and no two plugins share an entry-point name.

The registry is built once, under a lock, so threads that look up components at the
same time see one registry.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import EntryPoint, entry_points, version
from typing import Any

import pluggy
from sklearn.base import clone

from skadv import hookspecs
from skadv.exceptions import PluginError, PluginWarning

__all__ = [
    "get_attack",
    "get_gan",
    "get_objective",
    "get_plugin_manager",
    "get_registry",
    "list_attacks",
    "list_gans",
    "list_objectives",
    "register_plugin",
]

ENTRY_POINT_GROUP = "skadv"
ENV_VAR = "SKADV_PLUGINS"
DEFAULT_PLUGINS = (
    "skadv.default_plugins.attacks",
    "skadv.default_plugins.gans",
    "skadv.default_plugins.objectives",
)
HOOKS = {
    "attack": "skadv_register_attacks",
    "gan": "skadv_register_gans",
    "objective": "skadv_register_objectives",
}


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin and the distribution that installed it."""

    name: str
    distribution: str
    version: str


@dataclass(frozen=True)
class Component:
    """One attack, GAN or objective, and the plugin that registered it."""

    kind: str
    name: str
    factory: Any
    plugin: Plugin


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that failed to import, raised in its hook or registered a taken name."""

    plugin: str
    distribution: str
    message: str


@dataclass
class Registry:
    """Every component registered by the loaded plugins, and the problems met on the way."""

    plugins: list[Plugin] = field(default_factory=list)
    components: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {kind: {} for kind in HOOKS}
    )
    problems: list[PluginProblem] = field(default_factory=list)

    def report(self, plugin: str, distribution: str, message: str) -> None:
        self.problems.append(PluginProblem(plugin, distribution, message))
        warnings.warn(
            f"skadv plugin {plugin!r} ({distribution}): {message}", PluginWarning, stacklevel=4
        )

    def add(self, kind: str, plugin: Plugin, name: str, factory: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {kind} name must be a non-empty string, got {name!r}")
        if not callable(factory):
            raise TypeError(f"{kind} {name!r} must be a class or callable, got {factory!r}")
        taken = self.components[kind].get(name)
        if taken is not None:
            self.report(
                plugin.name,
                plugin.distribution,
                f"{kind} {name!r} is already provided by plugin {taken.plugin.name!r}; "
                "this registration is ignored",
            )
            return
        self.components[kind][name] = Component(kind, name, factory, plugin)


_manager: pluggy.PluginManager | None = None
_registry: Registry | None = None
_lock = threading.RLock()


def _wanted_plugins() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _distribution(ep: EntryPoint) -> tuple[str, str]:
    return (ep.dist.name, ep.dist.version) if ep.dist is not None else ("unknown", "unknown")


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _choose(candidates: list[EntryPoint], token: str, registry: Registry) -> list[EntryPoint]:
    """The entry points ``token`` of ``SKADV_PLUGINS`` means, by the rules in the docstring."""
    for rule in (
        lambda ep: _canonical(_distribution(ep)[0]) == _canonical(token),
        lambda ep: _canonical(_distribution(ep)[0]) == _canonical(f"skadv-{token}"),
        lambda ep: ep.name == token,
    ):
        chosen = [ep for ep in candidates if rule(ep)]
        dists = sorted({_distribution(ep)[0] for ep in chosen})
        if len(dists) == 1:
            return chosen
        if len(dists) > 1:
            registry.report(
                token,
                ", ".join(dists),
                f"{ENV_VAR} names {token!r}, which could mean any of the distributions "
                f"{', '.join(dists)}; none is loaded. Name the distribution instead.",
            )
            return []
    registry.report(token, "not installed", f"{ENV_VAR} names it, but no such plugin is installed")
    return []


def _selected(registry: Registry) -> list[EntryPoint]:
    """The installed entry points to load: all, or those ``SKADV_PLUGINS`` names."""
    candidates = list(entry_points(group=ENTRY_POINT_GROUP))
    wanted = _wanted_plugins()
    if wanted is None:
        # on a shared entry-point name, the skadv-<name> distribution, else the first, wins
        candidates.sort(key=lambda ep: _canonical(_distribution(ep)[0]) != f"skadv-{ep.name}")
        return candidates
    chosen = [ep for token in sorted(wanted) for ep in _choose(candidates, token, registry)]
    return list(dict.fromkeys(chosen))


def _load_external(pm: pluggy.PluginManager, registry: Registry) -> None:
    taken: dict[str, str] = {}
    for ep in _selected(registry):
        dist_name, dist_version = _distribution(ep)
        if ep.name in taken:  # never imported: the name belongs to another plugin
            registry.report(
                ep.name,
                dist_name,
                f"not loaded: its entry-point name {ep.name!r} is already used by {taken[ep.name]}",
            )
            continue
        taken[ep.name] = dist_name
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin, even one calling sys.exit, is isolated
            registry.report(ep.name, dist_name, f"failed to load: {type(exc).__name__}: {exc}")
            continue
        _check_hook_names(pm, module, ep.name, dist_name, registry)
        registry.plugins.append(Plugin(ep.name, dist_name, dist_version))


def _check_hook_names(
    pm: pluggy.PluginManager, plugin: Any, name: str, distribution: str, registry: Registry
) -> None:
    """Report hook implementations whose name matches no hook (a misspelling, say), as
    pluggy's ``check_pending`` would, without failing the plugin's other hooks."""
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None or (opts.get("specname") or attr) in HOOKS.values():
            continue
        close = difflib.get_close_matches(attr, list(HOOKS.values()), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        registry.report(name, distribution, f"implements {attr!r}, which is no skadv hook{hint}")


def _collect(pm: pluggy.PluginManager, registry: Registry, only: str | None = None) -> None:
    by_name = {plugin.name: plugin for plugin in registry.plugins}
    for kind, hook_name in HOOKS.items():
        # registration order: built-ins first, so they keep their names in a clash
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if only is not None and impl.plugin_name != only:
                continue
            plugin = by_name[impl.plugin_name]
            try:
                impl.function(register=partial(registry.add, kind, plugin))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # isolate the plugin, keep the others
                registry.report(
                    plugin.name,
                    plugin.distribution,
                    f"raised in {hook_name}: {type(exc).__name__}: {exc}",
                )


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the plugin manager, loading the built-in and external plugins once.

    Returns
    -------
    pluggy.PluginManager
        The manager for the ``skadv`` project name.
    """
    _load()
    assert _manager is not None
    return _manager


def _load() -> Registry:
    global _manager, _registry
    if _registry is not None:
        return _registry
    with _lock:
        if _registry is None:
            _manager, _registry = _build()
    return _registry


def _build() -> tuple[pluggy.PluginManager, Registry]:
    pm = pluggy.PluginManager("skadv")
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    skadv_version = version("skadv")
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        registry.plugins.append(Plugin(module_name, "skadv", skadv_version))
    _load_external(pm, registry)
    _collect(pm, registry)
    return pm, registry


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register a plugin (a module or object with hook implementations) in this process.

    For scripts and notebooks; installed packages are found through the ``skadv``
    entry-point group instead. Its components join the registry at once, with the same
    isolation and name-clash rules as installed plugins.

    Parameters
    ----------
    plugin : module or object
        Holds ``@hookimpl`` functions such as ``skadv_register_attacks``.
    name : str or None, default=None
        The plugin's name; pluggy derives one when None.

    Returns
    -------
    str
        The name the plugin was registered under.
    """
    if plugin is None or isinstance(plugin, (str, bytes, int, float)):
        raise TypeError(
            "register_plugin needs a module or object holding @hookimpl functions (such "
            f"as skadv_register_attacks), got {plugin!r}."
        )
    registry = _load()
    with _lock:
        assert _manager is not None
        registered = _manager.register(plugin, name=name)
        source = "(registered in process)"
        _check_hook_names(_manager, plugin, registered, source, registry)
        registry.plugins.append(Plugin(registered, source, "-"))
        _collect(_manager, registry, only=registered)
    return registered


def get_registry() -> Registry:
    """Return the registry of every component the loaded plugins registered.

    Returns
    -------
    Registry
        Plugins, components by kind, and load problems.
    """
    return _load()


def _lookup(kind: str, name: str) -> Component:
    if not isinstance(name, str):
        raise TypeError(f"{kind} must be a registered {kind} name (str), got {name!r}")
    components = _load().components[kind]
    if name in components:
        return components[name]
    available = ", ".join(sorted(components)) or "none"
    close = difflib.get_close_matches(name, list(components), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown {kind} {name!r}.{hint} Available {kind}s: {available}.")


def _create(kind: str, name: str, params: dict[str, Any]) -> Any:
    component = _lookup(kind, name)
    try:
        inspect.signature(component.factory).bind(**params)
    except TypeError as exc:
        accepted = getattr(component.factory, "_get_param_names", lambda: [])()
        hint = f" Valid parameters: {', '.join(accepted)}." if accepted else ""
        raise TypeError(f"Invalid parameters for {kind} {name!r}: {exc}.{hint}") from exc
    except ValueError:  # no introspectable signature: let the call itself decide
        pass
    with _component_errors(component):
        return component.factory(**params)


def list_attacks() -> list[str]:
    """Names of the registered attacks, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import skadv
    >>> "pgd" in skadv.list_attacks()
    True
    """
    return sorted(_load().components["attack"])


def get_attack(name: str, **params: Any) -> Any:
    """Create the attack registered under ``name`` with ``params``.

    Parameters
    ----------
    name : str
        A name from :func:`list_attacks`.
    **params
        Parameters of the attack, such as ``eps`` or ``steps``.

    Returns
    -------
    Attack
        A new, unfitted attack object.

    Raises
    ------
    ValueError
        If no attack is registered under ``name``; the message lists the available ones.

    Examples
    --------
    >>> import skadv
    >>> skadv.get_attack("pgd", eps=0.05, steps=5)
    PGD(eps=0.05, steps=5)
    """
    return _create("attack", name, params)


def list_gans() -> list[str]:
    """Names of the registered GAN architectures, sorted.

    Returns
    -------
    list of str
    """
    return sorted(_load().components["gan"])


def get_gan(name: str, **params: Any) -> Any:
    """Create the GAN architecture registered under ``name`` with ``params``.

    Parameters
    ----------
    name : str
        A name from :func:`list_gans`.
    **params
        Hyperparameters of the architecture.

    Returns
    -------
    object
        A new GAN architecture object.
    """
    return _create("gan", name, params)


def list_objectives() -> list[str]:
    """Names of the registered adversarial training objectives, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import skadv
    >>> {"madry", "trades"} <= set(skadv.list_objectives())
    True
    """
    return sorted(_load().components["objective"])


def get_objective(name: str, **params: Any) -> Any:
    """Create the training objective registered under ``name`` with ``params``.

    Parameters
    ----------
    name : str
        A name from :func:`list_objectives`.
    **params
        Parameters of the objective.

    Returns
    -------
    Objective
    """
    return _create("objective", name, params)


def resolve_attack(attack: Any, **params: Any) -> Any:
    """Turn an attack name or attack object into a new attack object with ``params`` set.

    Parameters
    ----------
    attack : str or Attack
        A registered name, or an attack object, which is cloned and left untouched.
    **params
        Parameters to set on the attack; ``None`` values are skipped.

    Returns
    -------
    Attack
    """
    params = {key: value for key, value in params.items() if value is not None}
    if isinstance(attack, str):
        return get_attack(attack, **params)
    if not hasattr(attack, "perturb") or not hasattr(attack, "set_params"):
        raise TypeError(
            "attack must be a registered attack name or an attack object with "
            f"perturb() and set_params(), got {attack!r}. Available attacks: "
            f"{', '.join(list_attacks())}."
        )
    return clone(attack).set_params(**params)


def resolve_objective(objective: Any, shared: dict[str, Any], **params: Any) -> Any:
    """Turn an objective name or object into a new objective object.

    Parameters
    ----------
    objective : str or Objective
        A registered name, or an objective object, which is cloned and left untouched.
    shared : dict
        Estimator-level parameters (such as ``ratio`` and ``beta``), set only on
        objectives that take them, and only where ``params`` does not set them.
    **params
        Objective parameters (``objective__*``), all of which must be accepted; they
        win over ``shared``.

    Returns
    -------
    Objective
    """
    if isinstance(objective, str):
        accepted = getattr(_lookup("objective", objective).factory, "_get_param_names", list)()
        shared = {k: v for k, v in shared.items() if k in accepted and k not in params}
        return get_objective(objective, **shared, **params)
    if not hasattr(objective, "loss") or not hasattr(objective, "set_params"):
        raise TypeError(
            "objective must be a registered objective name or an object with loss() and "
            f"set_params(), got {objective!r}. Available objectives: "
            f"{', '.join(list_objectives())}."
        )
    accepted = objective.get_params(deep=False)
    shared = {k: v for k, v in shared.items() if k in accepted and k not in params}
    return clone(objective).set_params(**shared, **params)


def origin(obj: Any) -> Component | None:
    """The registered component whose factory made ``obj``, or None if none did."""
    for components in _load().components.values():
        for component in components.values():
            if type(obj) is component.factory:
                return component
    return None


def describe(component: Component) -> str:
    """``kind 'name' of plugin 'p' (distribution version)``, for messages."""
    plugin = component.plugin
    return (
        f"{component.kind} {component.name!r} of plugin {plugin.name!r} "
        f"({plugin.distribution} {plugin.version})"
    )


@contextlib.contextmanager
def _component_errors(component: Component | None) -> Iterator[None]:
    try:
        yield
    except PluginError:  # already names its component
        raise
    except Exception as exc:
        if component is None or component.plugin.distribution == "skadv":
            raise
        raise PluginError(f"{describe(component)} raised {type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def plugin_errors(obj: Any) -> Iterator[None]:
    """Re-raise an exception from a third-party component as a :class:`PluginError`
    that names the plugin and distribution; built-ins and unregistered objects raise as is.
    """
    with _component_errors(origin(obj)):
        yield
