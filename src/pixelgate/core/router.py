"""The router: client-facing model name → the routes that can serve it."""

from __future__ import annotations

from pixelgate.errors import ModelNotFound
from pixelgate.providers.base import Route
from pixelgate.settings import GatewayConfig

__all__ = ["Router"]


class Router:
    def __init__(self, config: GatewayConfig, aliases: dict[str, str] | None = None) -> None:
        self._routes: dict[str, list[Route]] = {}
        self._canonical: dict[str, str] = {}
        self._aliases = aliases or {}
        for dep in config.deployments:
            route = Route(dep, dep.provider, config.providers[dep.provider])
            self._routes.setdefault(dep.model, []).append(route)
            for name in (dep.model, *dep.aliases):
                self._canonical[name] = dep.model

    def models(self) -> list[str]:
        return list(self._routes)

    def canonical(self, model: str) -> str:
        """The configured model name for a name, alias, or `prefix/name` form."""
        _, _, bare = model.rpartition("/")
        for name in (model, bare, self._aliases.get(model), self._aliases.get(bare)):
            if name is not None and name in self._canonical:
                return self._canonical[name]
        raise ModelNotFound(f"The model {model!r} does not exist.", param="model")

    def plan(self, model: str) -> list[Route]:
        return list(self._routes[self.canonical(model)])
