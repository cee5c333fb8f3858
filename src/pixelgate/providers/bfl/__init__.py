"""The `bfl` provider: Black Forest Labs' FLUX API (flux-pro-1.1, flux-pro-1.1-ultra,
flux-kontext-pro, flux-kontext-max, flux-dev, …), a task-based upstream: submit, then poll
the returned `polling_url`; the worker downloads `result.sample` at once (it expires)."""

from pixelgate.providers.base import ProviderSpec
from pixelgate.providers.bfl.tasks import BflTaskAdapter

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    type="bfl",
    engine=BflTaskAdapter(),
    description="Black Forest Labs FLUX API (submit + poll; results fetched at once).",
)
