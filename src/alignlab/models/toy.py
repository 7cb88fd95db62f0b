"""Toy causal LMs built from small Hugging Face configs (Llama; Mixtral for mixture-of-experts).

They are ordinary ``transformers`` models — trained, saved and loaded like any other — just small enough
(0.05–10M parameters) to train on a laptop CPU in minutes.
"""

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # transformers is imported where a model is built, so naming models stays cheap
    from transformers import LlamaConfig, MixtralConfig, PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class ToyModelConfig:
    arch: Literal["llama", "mixtral"] = "llama"
    """Decoder family: dense Llama blocks, or Mixtral blocks with a routed mixture of expert MLPs."""
    d_model: int = 64
    """Residual stream width."""
    n_layers: int = 2
    """Number of decoder blocks."""
    n_heads: int = 4
    """Attention heads per block (key/value heads equal query heads)."""
    d_mlp: int = 256
    """Hidden width of each MLP (of each expert, for Mixtral)."""
    max_seq_len: int = 256
    """Longest sequence the rotary embedding is configured for."""
    n_experts: int = 4
    """Mixtral only: experts per block."""
    experts_per_token: int = 2
    """Mixtral only: experts each token is routed to."""
    attention_only: bool = False
    """Drop the MLPs (each block's MLP writes zero), as in the induction-head and circuits toys."""

    def __post_init__(self) -> None:
        sizes = {
            k: getattr(self, k)
            for k in (
                "d_model",
                "n_layers",
                "n_heads",
                "d_mlp",
                "max_seq_len",
                "n_experts",
                "experts_per_token",
            )
        }
        for name, value in sizes.items():
            if not isinstance(value, int) or not 1 <= value <= 1_000_000:
                raise ValueError(f"{name} must be an integer between 1 and 1,000,000, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if self.arch == "mixtral" and not 0 < self.experts_per_token <= self.n_experts:
            raise ValueError("experts_per_token must be between 1 and n_experts")


TOY_MODELS: dict[str, ToyModelConfig] = {
    "toy-llama-tiny": ToyModelConfig(d_model=64, n_layers=2, n_heads=4, d_mlp=256),
    "toy-llama-small": ToyModelConfig(d_model=128, n_layers=4, n_heads=4, d_mlp=512),
    "toy-mixtral-tiny": ToyModelConfig(arch="mixtral", d_model=64, n_layers=2, n_heads=4, d_mlp=128),
}


def hf_config(config: ToyModelConfig, tokenizer: "PreTrainedTokenizerBase") -> "LlamaConfig | MixtralConfig":
    from transformers import LlamaConfig, MixtralConfig

    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=config.d_model,
        intermediate_size=config.d_mlp,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        num_key_value_heads=config.n_heads,
        max_position_embeddings=config.max_seq_len,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    if config.arch == "mixtral":
        return MixtralConfig(
            **common, num_local_experts=config.n_experts, num_experts_per_tok=config.experts_per_token
        )
    return LlamaConfig(**common)


def build_toy_model(
    config: ToyModelConfig, tokenizer: "PreTrainedTokenizerBase", *, seed: int = 0
) -> "PreTrainedModel":
    """A freshly initialised toy model whose vocabulary is ``tokenizer``'s. Same seed, same weights."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(hf_config(config, tokenizer), dtype=torch.float32)
    if config.attention_only:
        from .modules import NoMLP

        for block in model.model.layers:
            block.mlp = NoMLP()
    model.config.alignlab_toy = asdict(config)
    return model
