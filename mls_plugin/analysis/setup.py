"""What the MLS analysis scripts start from: the model and its labelled images."""

from typing import Optional, Tuple

from mmengine.config import Config

from ..models import MLS
from .labelled_images import build_labelled_dataset
from .model_loading import load_pretrained_model


def load_mls_with_images(
    config: str, checkpoint: str, ann_file: Optional[str] = None, data_prefix: Optional[str] = None
) -> Tuple[Config, MLS, object]:
    """The MLS model of ``checkpoint`` and the labelled training images of ``config``.

    Raises:
        FileNotFoundError: A file is missing (the message names it).
        ValueError: The config names no COCO json, or the model is not MLS.
    """
    cfg, model = load_pretrained_model(config, checkpoint)
    if not isinstance(model, MLS):
        raise ValueError(f'{checkpoint}: a {type(model).__name__} model, not MLS')
    return cfg, model, build_labelled_dataset(cfg, ann_file, data_prefix)
