"""The `ark` provider: Volcengine Ark Seedream (doubao-seedream-4-0/4-5/5-0) image
generation and editing, group generation and streaming."""

from pixelgate.providers.ark.images import ArkImagesAdapter
from pixelgate.providers.base import ProviderSpec

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    type="ark",
    engine=ArkImagesAdapter(),
    description="Volcengine Ark Seedream image generation.",
)
