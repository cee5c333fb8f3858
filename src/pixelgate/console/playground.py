"""The playground's form, derived from each model's contract (catalog/models.yaml).

The form shows a field only when the model takes it for the chosen operation (the
contract's `params`, or every field when it has none) and the contract gives it a domain
(sizes, qualities, formats…). The page's script renders these specs; it never guesses.
"""

from __future__ import annotations

from typing import Any

from pixelgate.catalog import Catalog, ModelContract
from pixelgate.core.models import Operation

__all__ = ["PLAYGROUND_OPERATIONS", "field_specs", "model_specs"]

PLAYGROUND_OPERATIONS = (Operation.GENERATE, Operation.EDIT)
# Fields the playground never offers: it always asks for signed links (so the gallery has
# thumbnails and no base64 reaches the page) and never streams.
_FIXED = {"model", "prompt", "response_format", "stream", "partial_images", "user"}


def _choice(name: str, options: tuple[str, ...], label: str = "") -> dict[str, Any]:
    return {"name": name, "kind": "select", "label": label or name, "options": list(options)}


def field_specs(contract: ModelContract, op: Operation) -> list[dict[str, Any]]:
    """The optional fields of `op` for a model, in the order the form shows them."""
    allowed = None if contract.params is None else set(contract.params.get(op, ()))

    def takes(name: str) -> bool:
        return allowed is None or name in allowed

    fields: list[dict[str, Any]] = []
    if takes("n"):
        fields.append({"name": "n", "kind": "number", "label": "n", "min": 1,
                       "max": contract.n_max, "default": 1})  # fmt: skip
    sizes = contract.sizes
    if takes("size") and (sizes.fixed or sizes.flexible is not None):
        size_options = [*(["auto"] if sizes.auto else []), *sizes.fixed]
        spec = _choice("size", tuple(size_options))
        spec["kind"] = "size"
        spec["custom"] = sizes.flexible is not None
        # Edits without a size keep the input image's size, so only generations get one.
        spec["default"] = contract.default_size if op is Operation.GENERATE else ""
        if spec["default"] and spec["default"] not in size_options:
            spec["options"].append(spec["default"])
        fields.append(spec)
    enumerated: list[tuple[str, tuple[str, ...]]] = [
        ("quality", contract.qualities),
        ("background", contract.backgrounds),
        ("output_format", tuple(f.value for f in contract.output_formats)),
        ("aspect_ratio", contract.aspect_ratios),
        ("resolution", contract.resolutions),
        *sorted(contract.choices.items()),
    ]
    for name, options in enumerated:
        if options and takes(name) and name not in _FIXED:
            fields.append(_choice(name, options))
    if takes("output_compression") and contract.compression_formats and takes("output_format"):
        fields.append(
            {
                "name": "output_compression",
                "kind": "number",
                "label": "output_compression",
                "min": 0,
                "max": 100,
                "default": None,
                "formats": [f.value for f in contract.compression_formats],
            }
        )
    return fields


def model_specs(models: list[str], catalog: Catalog) -> list[dict[str, Any]]:
    """One entry per deployed model: its operations and the fields of each (JSON-ready)."""
    out = []
    for name in models:
        contract = catalog.contract(name)
        ops = [op for op in PLAYGROUND_OPERATIONS if op in contract.operations]
        if not ops:
            continue
        out.append(
            {
                "model": name,
                "description": contract.description,
                "prompt_max": contract.prompt_max,
                "max_input_images": contract.max_input_images,
                "operations": [op.value for op in ops],
                "fields": {op.value: field_specs(contract, op) for op in ops},
            }
        )
    return out
