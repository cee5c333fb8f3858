"""The `dashscope` provider: Alibaba DashScope (Model Studio) Wan and Qwen-Image models.

Region hosts are configuration (`base_url`): Beijing `https://dashscope.aliyuncs.com/api/v1`
(the default), international `https://dashscope-intl.aliyuncs.com/api/v1`.
"""

from pixelgate.providers.base import ProviderSpec
from pixelgate.providers.dashscope.images import DashScopeImagesAdapter

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    type="dashscope",
    engine=DashScopeImagesAdapter(),
    description="Alibaba DashScope Wan / Qwen-Image (sync multimodal generation).",
)
