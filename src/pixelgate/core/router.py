"""The router: client-facing model name → the routes that can serve it."""

from __future__ import annotations

from pixelgate.errors import ModelNotFound
from pixelgate.providers.base import Route
from pixelgate.settings import GatewayConfig

__all__ = ["Router"]


class Router:
    def __init__(self, config: GatewayConfig) -> None:
        self._routes: dict[str, list[Route]] = {}
        self._canonical: dict[str, str] = {}
        for dep in config.deployments:
            route = Route(dep, dep.provider, config.providers[dep.provider])
            self._routes.setdefault(dep.model, []).append(route)
            for name in (dep.model, *dep.aliases):
                self._canonical[name] = dep.model

    def models(self) -> list[str]:
        return list(self._routes)

    def canonical(self, model: str) -> str:
        """The configured model name for a name, alias, or `prefix/name` form."""
        if model in self._canonical:
            return self._canonical[model]
        _, _, bare = model.rpartition("/")
        if bare in self._canonical:
            return self._canonical[bare]
        raise ModelNotFound(f"The model {model!r} does not exist.", param="model")

    def plan(self, model: str) -> list[Route]:
        return list(self._routes[self.canonical(model)])
