"""pixelgate: a self-hosted, unified image-generation API gateway."""

__all__ = ["__version__"]

__version__ = "0.1.0"
