"""The `dashscope` provider: Alibaba DashScope (Model Studio) Wan and Qwen-Image models.

Region hosts are configuration (`base_url`): Beijing `https://dashscope.aliyuncs.com/api/v1`
(the default), international `https://dashscope-intl.aliyuncs.com/api/v1`.

The multimodal models (wan2.6/2.7, qwen-image…) are called synchronously; the older Wan
image-synthesis models (wanx-…, wan2.1/2.2/2.5-…) exist only as async tasks, which the task
worker submits and polls (`tasks.py`).
"""

from pixelgate.providers.base import Engine, ProviderSpec
from pixelgate.providers.dashscope.images import DashScopeImagesAdapter
from pixelgate.providers.dashscope.tasks import DashScopeTaskAdapter, is_task_model

__all__ = ["PROVIDER"]

_TASKS = DashScopeTaskAdapter()


def _engine_for(model: str) -> Engine | None:
    return _TASKS if is_task_model(model) else None


PROVIDER = ProviderSpec(
    type="dashscope",
    engine=DashScopeImagesAdapter(),
    description="Alibaba DashScope Wan / Qwen-Image (sync multimodal; older Wan as tasks).",
    model_engine=_engine_for,
)
