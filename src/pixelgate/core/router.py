"""The router: client-facing model name → the routes that can serve it, in the order to try.

Deployments of a model are grouped in priority tiers (lower first); inside a tier the order
is a weighted random draw, so traffic splits by weight. Each deployment has a circuit
breaker and each provider a credential pool (see core.health); the pipeline asks
`acquire` right before a call and reports the outcome afterwards.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from typing import Any

from pixelgate.core.health import Breaker, CredentialPool
from pixelgate.errors import GatewayError, InvalidParameter, ModelNotFound, UpstreamAuthError
from pixelgate.providers.base import Route
from pixelgate.settings import GatewayConfig

__all__ = ["REGION_HEADER", "Router"]

REGION_HEADER = "X-Pixelgate-Region"

log = logging.getLogger("pixelgate.router")


def _weighted_order(routes: list[Route], rng: random.Random) -> list[Route]:
    pool = list(routes)
    ordered = []
    while pool:
        pick = rng.choices(range(len(pool)), weights=[r.deployment.weight for r in pool])[0]
        ordered.append(pool.pop(pick))
    return ordered


class Router:
    def __init__(
        self,
        config: GatewayConfig,
        aliases: dict[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._routes: dict[str, list[Route]] = {}
        self._canonical: dict[str, str] = {}
        self._aliases = aliases or {}
        self._rng = rng or random.Random()
        routing = config.routing
        self.deadline_seconds = routing.request_deadline_seconds
        self.cooldown_seconds = routing.cooldown_seconds
        self._breakers: dict[int, Breaker] = {}
        self._pools: dict[str, CredentialPool] = {
            name: CredentialPool(p.api_keys) for name, p in config.providers.items()
        }
        for index, dep in enumerate(config.deployments):
            route = Route(dep, dep.provider, config.providers[dep.provider], index=index)
            self._routes.setdefault(dep.model, []).append(route)
            self._breakers[index] = Breaker(routing.failure_threshold, routing.cooldown_seconds)
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

    def plan(self, model: str, region: str | None = None) -> list[Route]:
        """The routes for `model` in the order to try them: narrowed to `region` when the
        model's deployments carry region tags (untagged deployments serve every region, after
        the tagged matches), then priority tiers, then a weighted order inside each tier."""
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
            return self._ordered(routes)
        if not regions:
            return self._ordered(routes)
        wanted = region.strip().lower()
        tagged = [route for route in routes if wanted in route.deployment.regions]
        untagged = [route for route in routes if not route.deployment.regions]
        if not tagged and not untagged:
            raise InvalidParameter(
                f"The model {name!r} is not served in region {region!r} "
                f"(regions: {', '.join(regions)}); check the {REGION_HEADER} header.",
                param=REGION_HEADER,
            )
        return self._ordered(tagged) + self._ordered(untagged)

    def _ordered(self, routes: list[Route]) -> list[Route]:
        ordered: list[Route] = []
        for tier in sorted({r.deployment.priority for r in routes}):
            ordered += _weighted_order(
                [r for r in routes if r.deployment.priority == tier], self._rng
            )
        return ordered

    def acquire(self, route: Route) -> Route | None:
        """The route with a credential, if its circuit and credential pool allow a call now."""
        pool = self._pools[route.provider_name]
        credential = None
        if pool.keys and route.credential_index is None:
            credential = pool.next()
            if credential is None:
                return None
        if not self._breakers[route.index].allow():
            return None
        if credential is None:
            return route
        return dataclasses.replace(route, credential_index=credential[0], credential=credential[1])

    def route_for(self, model: str, deployment: str, credential_index: int | None) -> Route | None:
        """The route a task was submitted on (same deployment, same upstream credential — an
        upstream task is only visible to the key that created it), if still configured."""
        for route in self._routes.get(model, []):
            if route.name != deployment:
                continue
            keys = self._pools[route.provider_name].keys
            if credential_index is None or not 0 <= credential_index < len(keys):
                return route
            return dataclasses.replace(
                route, credential_index=credential_index, credential=keys[credential_index]
            )
        return None

    def another_credential(self, route: Route) -> Route | None:
        """The same deployment with the next usable key of its pool, if there is one."""
        pool = self._pools[route.provider_name]
        credential = pool.next() if pool.usable else None
        if credential is None or credential[0] == route.credential_index:
            return None
        return dataclasses.replace(route, credential_index=credential[0], credential=credential[1])

    def succeeded(self, route: Route) -> None:
        self._breakers[route.index].success()

    def released(self, route: Route) -> None:
        self._breakers[route.index].release()

    def failed(self, route: Route, err: GatewayError) -> None:
        breaker = self._breakers[route.index]
        if isinstance(err, UpstreamAuthError) and route.credential_index is not None:
            self._pools[route.provider_name].refuse(route.credential_index)
            log.warning(
                "provider %s: credential #%d refused by the upstream; removed from rotation",
                route.provider_name,
                route.credential_index,
            )
        if err.retryable:
            breaker.failure()
        else:
            breaker.success()  # the upstream answered properly; the request was at fault

    def health(self) -> dict[str, Any]:
        deployments = []
        for routes in self._routes.values():
            for route in routes:
                breaker = self._breakers[route.index]
                deployments.append(
                    {
                        "model": route.deployment.model,
                        "deployment": route.name,
                        "priority": route.deployment.priority,
                        "circuit": breaker.state.value,
                        "successes": breaker.successes,
                        "errors": breaker.errors,
                    }
                )
        credentials = {
            name: {
                "total": len(pool.keys),
                "usable": pool.usable,
                "refused": sorted(pool.refused),
            }
            for name, pool in self._pools.items()
            if pool.keys
        }
        return {"deployments": deployments, "credentials": credentials}
