from .mocov2_views import (
    MoCoV2Recipe,
    MoCoV2TwoViewPreprocessor,
    MoCoV2ViewParams,
    mocov2_views,
    sample_crops,
)

__all__ = [
    'MoCoV2Recipe',
    'MoCoV2TwoViewPreprocessor',
    'MoCoV2ViewParams',
    'mocov2_views',
    'sample_crops',
]
