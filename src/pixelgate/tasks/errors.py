"""Errors a task can end with that no upstream call raises by itself."""

from __future__ import annotations

from pixelgate.errors import (
    GatewayError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = [
    "DeploymentGone",
    "ResultUnavailable",
    "SubmitUncertain",
    "TaskInterrupted",
    "TaskTimedOut",
    "error_from_row",
]


class TaskTimedOut(UpstreamTimeout):
    """The task did not finish within `tasks.timeout_seconds`."""

    code = "task_timeout"
    retryable = False


class SubmitUncertain(UpstreamError):
    """A submit was sent but its answer was lost (crash, time-out) and the upstream cannot
    be asked whether it arrived; failing is safer than paying for the work twice."""

    code = "upstream_submit_uncertain"
    retryable = False


class TaskInterrupted(UpstreamError):
    """A sync upstream call of a task was cut off by a crash; it is not replayed."""

    code = "task_interrupted"
    retryable = False


class ResultUnavailable(UpstreamBadResponse):
    """The upstream finished but its result could not be downloaded (BFL's links expire)."""

    code = "upstream_result_unavailable"
    retryable = False


class DeploymentGone(UpstreamUnavailable):
    """The deployment that accepted the task is no longer configured."""

    code = "deployment_removed"
    retryable = False


def _subclasses(cls: type[GatewayError]) -> list[type[GatewayError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _subclasses(sub)
    return found


def error_from_row(type_name: str | None, code: str | None, message: str | None) -> GatewayError:
    """Rebuild the error a task failed with (its class decides the HTTP status)."""
    cls = next((c for c in _subclasses(GatewayError) if c.__name__ == type_name), UpstreamError)
    return cls(message or "The task failed.", code=code)
