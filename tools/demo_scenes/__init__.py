"""Parts of the demo-scene generator (``tools/generate_demo_scenes.py``).

* ``shapes``: silhouettes as simple integer polygons,
* ``textures``: fill patterns and per-object colours,
* ``background``: muted random backgrounds,
* ``categories``: the silhouette x texture categories and the chance of sharing one,
* ``layout``: placement without occlusion,
* ``render``: one scene from a random generator,
* ``coco``: json records, the up-to-date check and atomic writes.
"""

from .categories import (
    CATEGORIES,
    Category,
    expected_chance_precision,
    measured_chance_precision,
)
from .coco import SPLITS
from .render import render_scene

__all__ = [
    'CATEGORIES',
    'SPLITS',
    'Category',
    'expected_chance_precision',
    'measured_chance_precision',
    'render_scene',
]
