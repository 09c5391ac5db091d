"""Every URL pattern of the project, and how to build a real URL for each.

Used by the tenant-isolation matrix and the page hygiene sweep. Patterns come from the
URL resolver, so a new page is covered the moment it is routed.

To extend (from any app's tests, without touching this file): create
`tests/<app>/url_samples.py` with any of

    KWARG_FACTORIES = {"thing_id": make_thing, ("app:route", "token"): make_token}
    PUBLIC_URLS = {"app:route": Public("why it has no login", expect=..., kwargs={...})}
    PERSONAL_POSTS = {"app:route": "why a read-only person may POST here"}

A factory takes a `Sample` (the workspace to create the object in, and the cast) and
returns the URL value. Keys are a kwarg name, or (route name, kwarg name) for a kwarg
that means different things in different routes. They are merged with the base
registry in tests/dashboard/url_samples.py.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern, RoutePattern

import tests


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    pattern: str  # for messages
    kwargs: tuple[str, ...]
    callback: Callable[..., Any]
    namespace: str

    @property
    def access(self) -> str | None:
        """read | admin | triage (workspace_view), staff (staff_required), or None."""
        return getattr(self.callback, "workspace_access", None)

    @property
    def object_kwargs(self) -> tuple[str, ...]:
        return tuple(k for k in self.kwargs if k != "workspace_slug")


@dataclass(frozen=True)
class Sample:
    """What a factory needs: where to create the object, and the fixed cast."""

    workspace: Any
    cast: dict[str, Any]


Factory = Callable[[Sample], Any]
# (role, method, response) -> an error message, or None when the answer is fine.
Expectation = Callable[[str, str, Any], "str | None"]


@dataclass(frozen=True)
class Public:
    """A URL deliberately reachable without signing in."""

    reason: str
    expect: Expectation | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


def _kwarg_names(pattern: Any) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters)
    if isinstance(pattern, RegexPattern):
        return tuple(pattern.regex.groupindex)
    return ()


def _walk(
    resolver: URLResolver, prefix: str, namespaces: tuple[str, ...], kwargs: tuple[str, ...]
) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from _walk(
                entry, prefix + str(entry.pattern), ns, kwargs + _kwarg_names(entry.pattern)
            )
        elif isinstance(entry, URLPattern):
            name = ":".join((*namespaces, entry.name or f"<unnamed {prefix}{entry.pattern}>"))
            yield Route(
                name=name,
                pattern=prefix + str(entry.pattern),
                kwargs=kwargs + _kwarg_names(entry.pattern),
                callback=entry.callback,
                namespace=namespaces[0] if namespaces else "",
            )


def all_routes() -> list[Route]:
    return list(_walk(get_resolver(), "/", (), ()))


@dataclass
class Registry:
    factories: dict[Any, Factory] = field(default_factory=dict)
    public: dict[str, Public] = field(default_factory=dict)
    personal_posts: dict[str, str] = field(default_factory=dict)
    excluded_namespaces: dict[str, str] = field(default_factory=dict)
    public_namespaces: dict[str, Public] = field(default_factory=dict)


def registry() -> Registry:
    """The base registry merged with every tests/<app>/url_samples.py."""
    merged = Registry()
    for module_info in pkgutil.iter_modules(tests.__path__):
        if not module_info.ispkg:
            continue
        try:
            module = importlib.import_module(f"tests.{module_info.name}.url_samples")
        except ModuleNotFoundError as error:
            if error.name != f"tests.{module_info.name}.url_samples":
                raise
            continue
        merged.factories.update(getattr(module, "KWARG_FACTORIES", {}))
        merged.public.update(getattr(module, "PUBLIC_URLS", {}))
        merged.personal_posts.update(getattr(module, "PERSONAL_POSTS", {}))
        merged.excluded_namespaces.update(getattr(module, "EXCLUDED_NAMESPACES", {}))
        merged.public_namespaces.update(getattr(module, "PUBLIC_NAMESPACES", {}))
    return merged


def public_entry(route: Route, reg: Registry) -> Public | None:
    """The allowlist entry when the route is deliberately public (decorated views never are)."""
    if route.access is not None:
        return None
    return reg.public.get(route.name) or reg.public_namespaces.get(route.namespace)


class MissingFactory(Exception):
    pass


def build_url(route: Route, reg: Registry, sample: Sample, *, slug: str | None = None) -> str:
    """A real URL for the route: objects created in `sample.workspace`; `slug` overrides
    the workspace in the path (to aim one workspace's objects at another's URL)."""
    entry = public_entry(route, reg)
    fixed = entry.kwargs if entry is not None else {}
    values: dict[str, Any] = {}
    for kwarg in route.kwargs:
        if kwarg in fixed:
            values[kwarg] = fixed[kwarg]
        elif kwarg == "workspace_slug":
            values[kwarg] = slug or sample.workspace.slug
        else:
            factory = reg.factories.get((route.name, kwarg)) or reg.factories.get(kwarg)
            if factory is None:
                raise MissingFactory(
                    f"URL {route.name!r} ({route.pattern}) takes <{kwarg}>, and the "
                    "tenant-isolation test does not know how to make one. Add a factory for "
                    f"{kwarg!r} (or for ({route.name!r}, {kwarg!r})) to KWARG_FACTORIES in "
                    "tests/<your app>/url_samples.py: it gets a Sample(workspace, cast) and "
                    "returns the value, creating the object in that workspace."
                )
            values[kwarg] = factory(sample)
    return reverse(route.name, kwargs=values)
