"""Client API keys and the admin key."""

from pixelgate.auth.api_keys import ApiKeyService, CreatedKey, KeyInfo, Principal, extract_key

__all__ = ["ApiKeyService", "CreatedKey", "KeyInfo", "Principal", "extract_key"]
