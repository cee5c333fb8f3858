"""Model contracts of the Gemini fake: ids, imageSize support, aspect ratios, pixels, tokens.

Also the cached image payloads. Sources: docs/protocols/openai-gemini-xai.md §3.2 (ratios,
sizes, input limits) and §3.7 (token counts, pixel tables). Pixel tables are tagged
UNCONFIRMED there; see the choices below and in `tests/fakes/gemini.py`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import lru_cache

from tests.fakes.images import image_b64

__all__ = [
    "GEMINI_MODELS",
    "IMAGEN_MODELS",
    "ImageModel",
    "ImagenModel",
    "encoded_image",
    "gemini_dimensions",
    "imagen_dimensions",
]

BASE_RATIOS = frozenset({"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"})
EXTREME_RATIOS = frozenset({"1:4", "4:1", "1:8", "8:1"})

# 1K pixel table of gemini-2.5-flash-image (doc §3.7, 3P). Also the 1K base of the Gemini 3
# models except where `GEMINI3_1K` overrides it.
FLASH_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
# Doc §3.7 gives 16:9 1408x768 for Gemini 3 Pro Image; 9:16 is its transpose (our choice).
# The four extreme ratios of 3.1 Flash Image have no table anywhere: ~1 MP, multiples of 64.
GEMINI3_1K: dict[str, tuple[int, int]] = {
    "16:9": (1408, 768),
    "9:16": (768, 1408),
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (384, 3072),
    "8:1": (3072, 384),
}
SIZE_SCALE: dict[str, float] = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}


@dataclass(frozen=True)
class ImageModel:
    """What one Gemini image model accepts and how it answers."""

    image_sizes: tuple[str, ...]  # empty: the model has no imageSize selector (1K only)
    aspect_ratios: frozenset[str]
    max_input_images: int
    output_image_tokens: dict[str, int]  # per generated image, by imageSize
    input_image_tokens: int  # per reference image
    gemini3: bool  # thinking model: thoughtSignature on parts, thoughtsTokenCount
    table_1k: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(FLASH_1K))


_FLASH_25 = ImageModel(
    image_sizes=(),
    aspect_ratios=BASE_RATIOS,
    max_input_images=3,
    output_image_tokens={"1K": 1290},
    input_image_tokens=1290,
    gemini3=False,
)
_PRO_3 = ImageModel(
    image_sizes=("1K", "2K", "4K"),
    aspect_ratios=BASE_RATIOS,
    max_input_images=14,
    output_image_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
    input_image_tokens=560,
    gemini3=True,
    table_1k={**FLASH_1K, **GEMINI3_1K},
)
_FLASH_31 = ImageModel(
    image_sizes=("512", "1K", "2K", "4K"),
    aspect_ratios=BASE_RATIOS | EXTREME_RATIOS,
    max_input_images=14,
    output_image_tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
    input_image_tokens=1120,
    gemini3=True,
    table_1k={**FLASH_1K, **GEMINI3_1K},
)

GEMINI_MODELS: dict[str, ImageModel] = {
    "gemini-2.5-flash-image": _FLASH_25,
    "gemini-3-pro-image-preview": _PRO_3,
    "gemini-3-pro-image": _PRO_3,
    "gemini-3.1-flash-image-preview": _FLASH_31,
    "gemini-3.1-flash-image": _FLASH_31,
}


def gemini_dimensions(model: ImageModel, aspect_ratio: str, image_size: str) -> tuple[int, int]:
    """Pixel size of a generated image: the model's 1K table scaled by the imageSize."""
    width, height = model.table_1k[aspect_ratio]
    scale = SIZE_SCALE[image_size]
    return int(width * scale), int(height * scale)


@dataclass(frozen=True)
class ImagenModel:
    """What one Imagen model accepts on `:predict` (doc §3.6)."""

    max_samples: int
    image_sizes: tuple[str, ...]  # uppercase; the request value is matched case-insensitively


IMAGEN_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "3:4": (896, 1280),
    "4:3": (1280, 896),
    "9:16": (768, 1408),
    "16:9": (1408, 768),
}

IMAGEN_MODELS: dict[str, ImagenModel] = {
    "imagen-4.0-generate-001": ImagenModel(max_samples=4, image_sizes=("1K", "2K")),
    "imagen-4.0-ultra-generate-001": ImagenModel(max_samples=1, image_sizes=("1K", "2K")),
    "imagen-4.0-fast-generate-001": ImagenModel(max_samples=4, image_sizes=("1K", "2K")),
    "imagen-3.0-generate-002": ImagenModel(max_samples=4, image_sizes=()),
}


def imagen_dimensions(aspect_ratio: str, image_size: str) -> tuple[int, int]:
    width, height = IMAGEN_RATIOS[aspect_ratio]
    scale = 2 if image_size == "2K" else 1
    return width * scale, height * scale


@lru_cache(maxsize=32)
def _encoded(width: int, height: int, fmt: str) -> str:
    return image_b64(width, height, fmt)


async def encoded_image(width: int, height: int, fmt: str) -> str:
    """Base64 of a real image of that size; encoded off the event loop, cached."""
    return await asyncio.to_thread(_encoded, width, height, fmt)
