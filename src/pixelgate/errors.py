"""The gateway's error tree.

Every failure a client can see is a `GatewayError`. The class decides the HTTP status, the
machine-readable `code`, the OpenAI-style `type` and whether another route may be tried
(`retryable`); dialects only render it in their own shape.

    GatewayError (500 internal_error)
    ├── RequestError (400 invalid_request_error)         the client's request is wrong
    │   ├── InvalidParameter (400, names `param`)
    │   ├── UnsupportedMediaType (415)
    │   ├── PayloadTooLarge (413)
    │   ├── ContentPolicyError (400 content_policy_violation)
    │   └── ConflictError (409)
    ├── AuthenticationError (401 invalid_api_key)
    ├── PermissionDenied (403)
    ├── NotFound (404)
    │   └── ModelNotFound (404 model_not_found, param "model")
    ├── InsufficientQuota (402 insufficient_quota)
    ├── RateLimited (429 rate_limit_exceeded, Retry-After)
    ├── ServiceUnavailable (503 service_unavailable, Retry-After)   a shared service
    │                                        (Redis for rate limits) cannot be reached
    └── UpstreamError (502 upstream_error, retryable)
        ├── UpstreamAuthError (502, not retryable on the same credential)
        ├── UpstreamRateLimited (429 upstream, retryable)
        ├── UpstreamUnavailable (503, retryable)
        │   └── UpstreamConnectError (503: the connection failed, nothing was sent)
        ├── UpstreamTimeout (504, retryable)
        └── UpstreamBadResponse (502, retryable)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "ContentPolicyError",
    "GatewayError",
    "InsufficientQuota",
    "InvalidParameter",
    "ModelNotFound",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "RequestError",
    "ServiceUnavailable",
    "UnsupportedMediaType",
    "UpstreamAuthError",
    "UpstreamBadResponse",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class GatewayError(Exception):
    """Base of every error a client may receive."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    type: ClassVar[str] = "server_error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.error_code = code or self.code
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, param={self.param!r})"


class RequestError(GatewayError):
    status = 400
    code = "invalid_request"
    type = "invalid_request_error"


class InvalidParameter(RequestError):
    code = "invalid_parameter"


class UnsupportedMediaType(RequestError):
    status = 415
    code = "unsupported_media_type"


class PayloadTooLarge(RequestError):
    status = 413
    code = "payload_too_large"


class ContentPolicyError(RequestError):
    code = "content_policy_violation"


class ConflictError(RequestError):
    status = 409
    code = "conflict"


class AuthenticationError(GatewayError):
    status = 401
    code = "invalid_api_key"
    type = "authentication_error"


class PermissionDenied(GatewayError):
    status = 403
    code = "permission_denied"
    type = "permission_error"


class NotFound(GatewayError):
    status = 404
    code = "not_found"
    type = "invalid_request_error"


class ModelNotFound(NotFound):
    code = "model_not_found"


class InsufficientQuota(GatewayError):
    status = 402
    code = "insufficient_quota"
    type = "insufficient_quota"


class RateLimited(GatewayError):
    status = 429
    code = "rate_limit_exceeded"
    type = "rate_limit_error"


class ServiceUnavailable(GatewayError):
    """The gateway cannot decide the request because a service it shares with its other
    processes is down (Redis, holding per-key rate limits). Never retried on another route:
    no upstream was involved."""

    status = 503
    code = "service_unavailable"


class UpstreamError(GatewayError):
    status = 502
    code = "upstream_error"
    type = "upstream_error"
    retryable = True


class UpstreamAuthError(UpstreamError):
    code = "upstream_auth_error"
    retryable = True


class UpstreamRateLimited(UpstreamError):
    status = 429
    code = "upstream_rate_limited"


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "upstream_unavailable"


class UpstreamConnectError(UpstreamUnavailable):
    """No connection could be opened, so the upstream surely received nothing (a task
    submit may then be retried without any risk of running twice)."""


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamBadResponse(UpstreamError):
    code = "upstream_bad_response"
