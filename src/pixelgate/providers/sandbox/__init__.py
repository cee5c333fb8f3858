"""The sandbox provider: an offline, deterministic development backend (not a model).

It draws an abstract picture seeded from the prompt, seed, size, operation and input
images, so the gateway can be tried and tested with no upstream credentials. Same inputs →
same bytes. Edits draw onto the first input image (only inside the mask's transparent area
when a mask is given) and place further input images as thumbnails.
"""

from pixelgate.providers.base import ProviderSpec
from pixelgate.providers.sandbox.engine import SandboxEngine

__all__ = ["PROVIDER", "SandboxEngine"]

PROVIDER = ProviderSpec(
    type="sandbox",
    engine=SandboxEngine(),
    description="Offline deterministic development backend; draws abstract images locally.",
)
