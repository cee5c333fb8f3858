"""The `openai` provider: OpenAI's Images API (gpt-image-1, -1-mini, -1.5, -2, dall-e-2/3).

Generations (JSON), edits with one or several images and a mask (multipart), dall-e-2
variations, and streamed partial images for GPT image models.
"""

from pixelgate.providers.base import ProviderSpec
from pixelgate.providers.openai.endpoint import OpenAIEndpoint
from pixelgate.providers.openai.images import OpenAIImagesAdapter

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    type="openai",
    engine=OpenAIImagesAdapter(OpenAIEndpoint()),
    description="OpenAI Images API (GPT image models and DALL·E).",
)
