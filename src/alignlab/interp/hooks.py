"""Named activation sites on unmodified Hugging Face decoders, with TransformerLens's names.

    blocks.{i}.hook_resid_pre    residual stream entering block i          (B, T, d_model)
    blocks.{i}.hook_attn_out     block i's attention output                (B, T, d_model)
    blocks.{i}.hook_mlp_out      block i's MLP (or mixture-of-experts) out (B, T, d_model)
    blocks.{i}.hook_resid_post   residual stream leaving block i           (B, T, d_model)
    blocks.{i}.attn.hook_z       each head's output before the output projection (B, T, H, d_head)
    blocks.{i}.attn.hook_pattern each head's attention pattern, read-only    (B, H, T_query, T_key)
    ln_final.hook_normalized     the final norm's output, before unembedding

Attention patterns exist only where attention is computed eagerly: load the model with
``attn_implementation="eager"`` (or call ``model.set_attn_implementation("eager")``).

Sites are PyTorch forward hooks on the model's own modules — the model is never re-implemented, so its
logits stay exactly those of transformers. A hook function receives the activation and returns None (to
read it) or a tensor of the same shape (to replace it). Hooks live only inside ``with hooked.hooks(...)``
and are removed on the way out, errors included.
"""

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import AlignlabError

HookFn = Callable[[torch.Tensor], torch.Tensor | None]
SITE = re.compile(
    r"^blocks\.(\d+)\.(hook_resid_pre|hook_attn_out|hook_mlp_out|hook_resid_post|attn\.hook_z|attn\.hook_pattern)$"
)
KINDS = (
    "hook_resid_pre",
    "hook_attn_out",
    "hook_mlp_out",
    "hook_resid_post",
    "attn.hook_z",
    "attn.hook_pattern",
)
FINAL = "ln_final.hook_normalized"


def _decoder(model: nn.Module) -> tuple[Sequence[nn.Module], nn.Module]:
    """(the list of decoder blocks, the final norm) for the common HF layouts."""
    for path in ("model", "transformer", "gpt_neox", "base_model.model.model"):
        inner = model
        for part in path.split("."):
            inner = getattr(inner, part, None)
        if inner is None:
            continue
        layers = getattr(inner, "layers", None) or getattr(inner, "h", None)
        norm = (
            getattr(inner, "norm", None)
            or getattr(inner, "ln_f", None)
            or getattr(inner, "final_layer_norm", None)
        )
        if layers is not None and norm is not None:
            return layers, norm
    raise AlignlabError(
        f"{type(model).__name__}: no decoder blocks found (looked for model.layers and transformer.h)"
    )


def _output_projection(attention: nn.Module | None) -> nn.Module | None:
    """The layer that mixes the concatenated heads back into the residual stream: Llama-style o_proj, GPT-2's
    c_proj (a Conv1D: the same (B, T, heads · d_head) input), or out_proj."""
    for name in ("o_proj", "c_proj", "out_proj", "dense"):
        if (module := getattr(attention, name, None)) is not None:
            return module
    return None


def _first(output):
    return output[0] if isinstance(output, tuple) else output


def _replace_first(output, new: torch.Tensor):
    return (new, *output[1:]) if isinstance(output, tuple) else new


class _StopForward(Exception):
    """Raised by a caching hook once every requested site has fired, to skip the rest of the forward."""


class HookedModel:
    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.blocks, self.final_norm = _decoder(model)

    @property
    def n_layers(self) -> int:
        return len(self.blocks)

    @property
    def context_length(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)

    def check_length(self, input_ids: torch.Tensor) -> None:
        """A clear error instead of silently extrapolating past the positions the model was built for."""
        if self.context_length is not None and input_ids.shape[-1] > self.context_length:
            raise AlignlabError(
                f"prompt is {input_ids.shape[-1]} tokens, longer than the model's limit of {self.context_length}"
            )

    @property
    def n_heads(self) -> int:
        return self.model.config.num_attention_heads

    @property
    def eager_attention(self) -> bool:
        return getattr(self.model.config, "_attn_implementation", None) == "eager"

    def site_names(self) -> list[str]:
        """Every site this model has; attention patterns only when attention is eager (the only place they
        exist), per-head outputs only where the attention module has an output projection to read them from."""
        kinds = list(KINDS if self.eager_attention else KINDS[:-1])
        attention = getattr(self.blocks[0], "self_attn", None) or getattr(self.blocks[0], "attn", None)
        if _output_projection(attention) is None:
            kinds.remove("attn.hook_z")
        return [f"blocks.{i}.{k}" for i in range(self.n_layers) for k in kinds] + [FINAL]

    def _check(self, name: str) -> None:
        match = SITE.match(name)
        if name == FINAL or (match and int(match.group(1)) < self.n_layers):
            return
        raise AlignlabError(
            f"no activation site {name!r}; sites are blocks.N.{' / '.join(KINDS)} "
            f"for N in 0..{self.n_layers - 1}, and {FINAL}"
        )

    def _register(self, name: str, fn: HookFn) -> torch.utils.hooks.RemovableHandle:
        if name == FINAL:
            module, kind = self.final_norm, "output"
        else:
            index, kind_name = SITE.match(name).groups()
            block = self.blocks[int(index)]
            attention = getattr(block, "self_attn", None) or getattr(block, "attn", None)
            if kind_name == "attn.hook_z":
                return self._register_head_outputs(name, attention, fn)
            if kind_name == "attn.hook_pattern":
                return self._register_pattern(name, attention, fn)
            module, kind = {
                "hook_resid_pre": (block, "input"),
                "hook_resid_post": (block, "output"),
                "hook_attn_out": (attention, "output"),
                "hook_mlp_out": (
                    getattr(block, "mlp", None) or getattr(block, "block_sparse_moe", None),
                    "output",
                ),
            }[kind_name]
            if module is None:
                raise AlignlabError(f"{name}: this architecture has no such submodule")
        if kind == "input":

            def pre_hook(module, args, kwargs):
                hidden = args[0] if args else kwargs["hidden_states"]
                new = fn(hidden)
                if new is None:
                    return None
                if args:
                    return (new, *args[1:]), kwargs
                return args, {**kwargs, "hidden_states": new}

            return module.register_forward_pre_hook(pre_hook, with_kwargs=True)

        def post_hook(module, args, output):
            new = fn(_first(output))
            return None if new is None else _replace_first(output, new)

        return module.register_forward_hook(post_hook)

    def _register_head_outputs(self, name: str, attention: nn.Module, fn: HookFn):
        projection = _output_projection(attention)
        if projection is None:
            raise AlignlabError(
                f"{name}: this attention module has no output projection (o_proj, c_proj, out_proj)"
            )

        def pre_hook(module, args):
            z = args[0]
            heads = z.unflatten(-1, (self.n_heads, -1))  # (B, T, H, d_head)
            new = fn(heads)
            return None if new is None else (new.flatten(-2), *args[1:])

        return projection.register_forward_pre_hook(pre_hook)

    def _register_pattern(self, name: str, attention: nn.Module, fn: HookFn):
        if not self.eager_attention:
            raise AlignlabError(
                f"{name}: attention patterns need eager attention; load the model with "
                "attn_implementation='eager' or call model.set_attn_implementation('eager')"
            )

        def post_hook(module, args, output):
            if fn(output[1]) is not None:
                raise AlignlabError(f"{name} is read-only: patch attn.hook_z to change what a head writes")

        return attention.register_forward_hook(post_hook)

    @contextmanager
    def hooks(self, fns: dict[str, HookFn]) -> Iterator["HookedModel"]:
        """Attach ``{site: fn}`` for the duration of the block; always detached afterwards."""
        for name in fns:
            self._check(name)
        handles = []
        try:
            for name, fn in fns.items():
                handles.append(self._register(name, fn))
            yield self
        finally:
            for handle in handles:
                handle.remove()

    @torch.no_grad()
    def run_with_hooks(
        self, input_ids: torch.Tensor, hooks: dict[str, HookFn], attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (B, T, V) of one forward pass with ``{site: fn}`` attached."""
        self.check_length(input_ids)
        with self.hooks(hooks):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    @torch.no_grad()
    def run_with_cache(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        names: Sequence[str] | None = None,
        stop_early: bool = False,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """Run once and return (logits, {site: activation}). ``names`` defaults to every site. With
        ``stop_early`` the forward pass stops once the last requested site has fired (logits are None)."""
        self.check_length(input_ids)
        names = list(names) if names is not None else self.site_names()
        cache: dict[str, torch.Tensor] = {}

        def saver(name: str) -> HookFn:
            def save(activation: torch.Tensor) -> None:
                cache[name] = activation.detach()
                if stop_early and len(cache) == len(names):
                    raise _StopForward

            return save

        with self.hooks({name: saver(name) for name in names}):
            try:
                logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
            except _StopForward:
                logits = None
        return logits, cache


def zero_ablate(positions: Sequence[int] | None = None) -> HookFn:
    """Set the activation to zero (at ``positions``, or everywhere)."""

    def fn(activation: torch.Tensor) -> torch.Tensor:
        out = activation.clone()
        out[:, list(positions) if positions is not None else slice(None)] = 0
        return out

    return fn


def mean_ablate(mean: torch.Tensor, positions: Sequence[int] | None = None) -> HookFn:
    """Replace the activation with ``mean`` (d_model,), e.g. its average over a reference data set."""

    def fn(activation: torch.Tensor) -> torch.Tensor:
        out = activation.clone()
        out[:, list(positions) if positions is not None else slice(None)] = mean.to(activation.dtype)
        return out

    return fn


def add_direction(
    direction: torch.Tensor, scale: float = 1.0, positions: Sequence[int] | None = None
) -> HookFn:
    """Add ``scale * direction`` (d_model,) to the activation: activation steering."""

    def fn(activation: torch.Tensor) -> torch.Tensor:
        out = activation.clone()
        index = list(positions) if positions is not None else slice(None)
        out[:, index] = out[:, index] + scale * direction.to(activation.dtype)
        return out

    return fn


def ablate_heads(heads: Sequence[int], mean: torch.Tensor | None = None) -> HookFn:
    """For an ``attn.hook_z`` site: zero (or set to ``mean``, shape (H, d_head)) the outputs of ``heads``."""

    def fn(z: torch.Tensor) -> torch.Tensor:
        out = z.clone()
        out[:, :, list(heads)] = 0 if mean is None else mean[list(heads)].to(z.dtype)
        return out

    return fn


def patch_from(source: torch.Tensor, positions: Sequence[int] | None = None) -> HookFn:
    """Replace the activation with ``source`` (same shape, e.g. cached from a clean run) at ``positions``."""

    def fn(activation: torch.Tensor) -> torch.Tensor:
        out = activation.clone()
        index = list(positions) if positions is not None else slice(None)
        out[:, index] = source[:, index].to(activation.dtype)
        return out

    return fn
