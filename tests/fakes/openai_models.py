"""Model catalogue of the OpenAI Images fake: which sizes, qualities and endpoints each model
accepts (protocol doc §1.2-1.6, Aug-2026 spec snapshot). Data only; the rules that use it are
in tests/fakes/openai_rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MODELS", "EXTRA_MODELS", "Family"]


@dataclass(frozen=True)
class Family:
    """What one model accepts. `sizes` excludes "auto"; `flexible` allows any valid WxH."""

    name: str
    gpt: bool
    ops: frozenset[str]
    sizes: tuple[str, ...]
    qualities: tuple[str, ...]
    prompt_max: int
    max_n: int = 10
    flexible: bool = False
    input_fidelity: bool = False
    auto_size: bool = False


_GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536")
_GPT_QUALITIES = ("low", "medium", "high", "auto")
_GEN_EDIT = frozenset({"generate", "edit"})

DALL_E_2 = Family(
    "dall-e-2", False, frozenset({"generate", "edit", "variation"}),
    ("256x256", "512x512", "1024x1024"), ("standard",), 1000,
)  # fmt: skip
DALL_E_3 = Family(
    "dall-e-3", False, frozenset({"generate"}),
    ("1024x1024", "1792x1024", "1024x1792"), ("standard", "hd"), 4000, max_n=1,
)  # fmt: skip
GPT_IMAGE_1 = Family(
    "gpt-image-1", True, _GEN_EDIT, _GPT_SIZES, _GPT_QUALITIES, 32000,
    input_fidelity=True, auto_size=True,
)  # fmt: skip
GPT_IMAGE_1_MINI = Family(
    "gpt-image-1-mini", True, _GEN_EDIT, _GPT_SIZES, _GPT_QUALITIES, 32000, auto_size=True
)
CHATGPT_IMAGE = Family(
    "chatgpt-image-latest", True, frozenset({"edit"}), _GPT_SIZES, _GPT_QUALITIES, 32000,
    input_fidelity=True, auto_size=True,
)  # fmt: skip
GPT_IMAGE_2 = Family(
    "gpt-image-2", True, _GEN_EDIT, _GPT_SIZES, _GPT_QUALITIES, 32000,
    flexible=True, input_fidelity=True, auto_size=True,
)  # fmt: skip
GPT_IMAGE_25 = Family(
    "gpt-image-2.5", True, _GEN_EDIT, _GPT_SIZES, (*_GPT_QUALITIES, "xhigh", "max"), 32000,
    flexible=True, input_fidelity=True, auto_size=True,
)  # fmt: skip

DEFAULT_MODELS: dict[str, Family] = {
    "dall-e-2": DALL_E_2,
    "dall-e-3": DALL_E_3,
    "gpt-image-1": GPT_IMAGE_1,
    "gpt-image-1-mini": GPT_IMAGE_1_MINI,
    "gpt-image-1.5": GPT_IMAGE_1,
    "chatgpt-image-latest": CHATGPT_IMAGE,
    "gpt-image-2": GPT_IMAGE_2,
    "gpt-image-2-2026-04-21": GPT_IMAGE_2,
}
# Newer than the Aug-2026 spec snapshot (UNCONFIRMED); add them to a state's `models` to enable.
EXTRA_MODELS: dict[str, Family] = {
    name: GPT_IMAGE_25
    for name in (
        "gpt-image-2.5-sunburst",
        "gpt-image-2.5-sunburst-2026-09-08",
        "gpt-image-2.5-flare",
        "gpt-image-2.5-flare-2026-09-08",
        "gpt-image-2.6-sunburst",
        "gpt-image-2.6-flare",
    )
}
