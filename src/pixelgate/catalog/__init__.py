"""Model contracts as data: loaded from the YAML shipped in this package."""

from pixelgate.catalog.contract import Catalog, ModelContract, SizeRule, load_catalog

__all__ = ["Catalog", "ModelContract", "SizeRule", "load_catalog"]
