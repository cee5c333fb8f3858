"""The router: client-facing model name → the routes that can serve it."""

from __future__ import annotations

from pixelgate.errors import InvalidParameter, ModelNotFound
from pixelgate.providers.base import Route
from pixelgate.settings import GatewayConfig

__all__ = ["REGION_HEADER", "Router"]

REGION_HEADER = "X-Pixelgate-Region"


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

    def plan(self, model: str, region: str | None = None) -> list[Route]:
        """The routes for `model`, narrowed to `region` when the model's deployments carry
        region tags. Untagged deployments serve every region, after the tagged matches."""
        name = self.canonical(model)
        routes = list(self._routes[name])
        regions = sorted({r for route in routes for r in route.deployment.regions})
        if region is None or not region.strip():
            if any(route.deployment.region_required for route in routes):
                raise InvalidParameter(
                    f"The model {name!r} is served per region: send the {REGION_HEADER} "
                    f"header (one of: {', '.join(regions)}).",
                    param=REGION_HEADER,
                )
            return routes
        if not regions:
            return routes
        wanted = region.strip().lower()
        chosen = [route for route in routes if wanted in route.deployment.regions]
        chosen += [route for route in routes if not route.deployment.regions]
        if not chosen:
            raise InvalidParameter(
                f"The model {name!r} is not served in region {region!r} "
                f"(regions: {', '.join(regions)}); check the {REGION_HEADER} header.",
                param=REGION_HEADER,
            )
        return chosen
