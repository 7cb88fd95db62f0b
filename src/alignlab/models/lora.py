"""LoRA adapters through PEFT, and QLoRA (4-bit base weights through bitsandbytes, CUDA only).

With an adapter, trainers use the base model with the adapter disabled as the frozen reference, so
KL-regularised methods need no second copy of the weights.
"""

from collections.abc import Sequence

import torch

from ..errors import AlignlabError


def add_lora(
    model: torch.nn.Module,
    *,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.0,
    target_modules: str | Sequence[str] = "all-linear",
):
    """Wrap ``model`` in a PEFT LoRA adapter: W + (alpha / r) B A, with B initialised to zero (so the
    adapted model starts equal to the base). Only the adapter's parameters are trainable."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules if isinstance(target_modules, str) else list(target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def load_qlora(name_or_path: str, *, device: str = "cuda", r: int = 8, alpha: int = 16):
    """A 4-bit NF4 base model (Dettmers et al. 2023) with a LoRA adapter. Needs CUDA and bitsandbytes
    (the ``gpu`` extra); elsewhere it says so instead of failing deep inside a library."""
    if not str(device).startswith("cuda") or not torch.cuda.is_available():
        raise AlignlabError(
            "QLoRA needs a CUDA GPU (bitsandbytes 4-bit kernels); on this device use add_lora instead"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise AlignlabError("QLoRA needs bitsandbytes: pip install 'alignlab[gpu]'") from None
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
    model = AutoModelForCausalLM.from_pretrained(
        name_or_path, quantization_config=quantization, device_map={"": device}
    )
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    return add_lora(prepare_model_for_kbit_training(model), r=r, alpha=alpha), tokenizer
