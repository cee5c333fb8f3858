"""The `xai` provider: Grok Imagine image models (n, response_format, aspect_ratio,
resolution 1k/2k; JSON edits)."""

from pixelgate.providers.base import ProviderSpec
from pixelgate.providers.xai.images import XaiImagesAdapter

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    type="xai",
    engine=XaiImagesAdapter(),
    description="xAI Grok Imagine image generation and edits.",
)
