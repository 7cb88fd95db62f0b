"""What the eval experiments share: the model under evaluation, and a batched local generator for it."""

from ..config import Count
from .registry import ModelConfig, RunContext


class EvalModelConfig(ModelConfig):
    model: str = "smollm2-135m-instruct"
    """The model under evaluation: an alignlab name, a Hugging Face folder or a hub id."""
    batch_size: Count = 32
    """Samples solved at once."""


def local_generator(cfg: EvalModelConfig, ctx: RunContext):
    """``cfg.model`` loaded on the run's device behind a batched ``HFGenerator``."""
    from ..generation import HFGenerator
    from ..models import load_model

    return HFGenerator(*load_model(cfg.model, device=ctx.device, seed=ctx.seed), batch_size=cfg.batch_size)
