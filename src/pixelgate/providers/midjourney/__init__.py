"""The `midjourney` provider: a midjourney-proxy server (novicezk / trueai `/mj/...` API), a
task-based upstream. The result is the 2x2 grid image; its U1-U4 / V1-V4 buttons are
offered as follow-up actions on the gateway's task (`POST /v1/tasks/{id}/actions`)."""

from pixelgate.providers.base import ProviderSpec
from pixelgate.providers.midjourney.tasks import MidjourneyTaskAdapter

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    type="midjourney",
    engine=MidjourneyTaskAdapter(),
    description="Midjourney through a midjourney-proxy server (imagine, U/V actions).",
)
