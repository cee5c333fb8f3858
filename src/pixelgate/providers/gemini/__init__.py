"""The gemini provider: Google's Gemini image models over the Gemini API
(`POST {base}/v1beta/models/{model}:generateContent`, key in `x-goog-api-key`), or over
Vertex AI by configuration. Streams with `:streamGenerateContent?alt=sse` and takes
Gemini-native request bodies as they are (passthrough). See images.py for an example.

Options (`providers.<name>.options`): `api_version` (v1beta; v1 on Vertex), `vertex`,
`project`, `location` (global), `auth` (api_key | bearer).
"""

from pixelgate.providers.base import ProviderSpec
from pixelgate.providers.gemini.images import GeminiAdapter

__all__ = ["PROVIDER", "GeminiAdapter"]

PROVIDER = ProviderSpec(
    type="gemini",
    engine=GeminiAdapter(),
    description="Google Gemini image models (Gemini API or Vertex AI).",
    images_per_call=1,
)
