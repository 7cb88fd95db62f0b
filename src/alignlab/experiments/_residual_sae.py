"""The small SAE that the embedded-model experiments read a residual stream with (``steering``,
``safety-features``): TopK, k = 32, four times the stream's width, on docstring-corpus tokens, and the config
fields that name the residual stream (shared with ``sae``)."""

from pydantic import model_validator

from ..config import NonNegativeCount
from ..models import block_count
from .registry import ModelConfig


class ResidualSiteConfig(ModelConfig):
    """A model and one of its residual layers, checked before a run starts wherever the model's depth can be
    read without loading it (the embedded and toy models, local folders)."""

    layer: NonNegativeCount = 12
    """The residual stream after this block (``blocks.{layer}.hook_resid_post``)."""

    @model_validator(mode="after")
    def _layer_exists(self):
        blocks = block_count(self.model)
        if blocks is not None and self.layer >= blocks:
            raise ValueError(_no_such_layer(self.layer, self.model, blocks))
        return self


def _no_such_layer(layer: int, model_name: str, blocks: int) -> str:
    return f"layer {layer} does not exist: {model_name} has blocks 0..{blocks - 1}"


def resid_post_site(hooked, layer: int, model_name: str) -> str:
    """The residual stream after block ``layer``; checked again on the loaded model, for a hub id whose depth the
    config could not read."""
    from ..errors import AlignlabError

    if not 0 <= layer < hooked.n_layers:
        raise AlignlabError(f"--set layer: {_no_such_layer(layer, model_name, hooked.n_layers)}")
    return f"blocks.{layer}.hook_resid_post"


def train_residual_sae(hooked, site: str, blocks, *, steps: int, ctx):
    """Cache the activations of ``blocks`` at ``site`` and train the SAE on them, logging to ``ctx`` as
    ``sae_*``. Returns the SAE and the activation store."""
    from ..interp.sae import ActivationStore, sae_config, train_sae

    store = ActivationStore.from_model(hooked, site, blocks)
    sae = train_sae(
        sae_config("topk", d_in=store.d_in, expansion=4, k=32, steps=steps, batch_size=1024,
                   dead_feature_window=len(store)),
        store, seed=ctx.seed, device=ctx.device, log_every=max(steps // 4, 1),
        on_log=lambda step, record: ctx.log(step, **{f"sae_{k}": v for k, v in record.items()}),
    )  # fmt: skip
    return sae, store
