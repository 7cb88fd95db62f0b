"""Activation patching (causal tracing; Meng et al. 2022, Wang et al. 2022), per site or per head, and
attribution patching (Nanda 2023).

Run a clean and a corrupted prompt of equal length. Patching the clean activation at one (layer, position)
into the corrupted run and measuring a metric m (e.g. the logit difference between the clean and the
corrupted answer) gives the normalised effect

    effect = (m(patched) - m(corrupted)) / (m(clean) - m(corrupted)),

1 where the site carries everything that matters, 0 where it carries nothing. Attribution patching
approximates every effect from one backward pass, to first order:

    m(patched) - m(corrupted) ~ (a_clean - a_corrupted) . dm/da |_corrupted.
"""

from collections.abc import Callable, Sequence

import torch

from ..errors import AlignlabError
from .hooks import HookedModel

Metric = Callable[[torch.Tensor], torch.Tensor]  # logits (1, T, V) -> scalar


def logit_difference(good_id: int, bad_id: int, position: int = -1) -> Metric:
    """m = logit(good) - logit(bad) at ``position``."""
    return lambda logits: logits[0, position, good_id] - logits[0, position, bad_id]


def _sites(hooked: HookedModel, kind: str, layers: Sequence[int] | None = None) -> list[str]:
    return [f"blocks.{i}.{kind}" for i in (layers if layers is not None else range(hooked.n_layers))]


def _check_pair(clean_ids: torch.Tensor, corrupted_ids: torch.Tensor) -> None:
    if clean_ids.shape != corrupted_ids.shape or clean_ids.shape[0] != 1:
        raise AlignlabError(
            f"patching needs one clean and one corrupted prompt of equal length; got {tuple(clean_ids.shape)} "
            f"and {tuple(corrupted_ids.shape)} tokens"
        )


@torch.no_grad()
def patch_cells(
    hooked: HookedModel,
    clean_ids: torch.Tensor,
    corrupted_ids: torch.Tensor,
    metric: Metric,
    kind: str,
    cells: Sequence[tuple[int, int]],
    *,
    batch_size: int = 64,
) -> torch.Tensor:
    """Normalised effect of patching each (layer, position) cell of site ``kind`` on its own: (len(cells),).

    Cells are patched in batches: row i of a batch is the corrupted prompt with cell i restored, so one
    forward pass measures up to ``batch_size`` cells."""
    _check_pair(clean_ids, corrupted_ids)
    names = {layer: f"blocks.{layer}.{kind}" for layer in sorted({layer for layer, _ in cells})}
    clean_logits, cache = hooked.run_with_cache(clean_ids, names=list(names.values()))
    clean_m = metric(clean_logits).item()
    corrupted_m = metric(hooked.run_with_hooks(corrupted_ids, {})).item()
    effects = torch.zeros(len(cells))
    for start in range(0, len(cells), batch_size):
        chunk = cells[start : start + batch_size]
        hooks = {}
        for layer, name in names.items():
            rows = [i for i, (cell_layer, _) in enumerate(chunk) if cell_layer == layer]
            if rows:
                positions = [chunk[i][1] for i in rows]

                def restore(activation, rows=rows, positions=positions, source=cache[name]):
                    out = activation.clone()
                    out[rows, positions] = source[0, positions].to(activation.dtype)
                    return out

                hooks[name] = restore
        logits = hooked.run_with_hooks(corrupted_ids.expand(len(chunk), -1), hooks)
        for i in range(len(chunk)):
            effects[start + i] = (metric(logits[i : i + 1]).item() - corrupted_m) / (clean_m - corrupted_m)
    return effects


def activation_patching(
    hooked: HookedModel,
    clean_ids: torch.Tensor,
    corrupted_ids: torch.Tensor,
    metric: Metric,
    kind: str = "hook_resid_pre",
    layers: Sequence[int] | None = None,
    *,
    batch_size: int = 64,
) -> torch.Tensor:
    """Normalised effect of patching each (layer, position) of site ``kind``: (len(layers), T), every layer
    by default."""
    layers = list(layers) if layers is not None else list(range(hooked.n_layers))
    positions = range(clean_ids.shape[-1])
    cells = [(layer, position) for layer in layers for position in positions]
    effects = patch_cells(hooked, clean_ids, corrupted_ids, metric, kind, cells, batch_size=batch_size)
    return effects.view(len(layers), len(positions))


@torch.no_grad()
def head_patching(
    hooked: HookedModel,
    clean_ids: torch.Tensor,
    corrupted_ids: torch.Tensor,
    metric: Metric,
    layers: Sequence[int] | None = None,
    positions: Sequence[int] | None = None,
) -> torch.Tensor:
    """Normalised effect of patching one attention head's clean output (``attn.hook_z``, before the output
    projection) into the corrupted run, at ``positions`` (all by default): (len(layers), n_heads)."""
    _check_pair(clean_ids, corrupted_ids)
    sites = _sites(hooked, "attn.hook_z", layers)
    clean_logits, cache = hooked.run_with_cache(clean_ids, names=sites)
    clean_m = metric(clean_logits).item()
    corrupted_m = metric(hooked.run_with_hooks(corrupted_ids, {})).item()
    index = list(positions) if positions is not None else slice(None)
    effects = torch.zeros(len(sites), hooked.n_heads)
    for layer, site in enumerate(sites):
        for head in range(hooked.n_heads):

            def patch_head(z: torch.Tensor, site=site, head=head) -> torch.Tensor:
                out = z.clone()
                out[:, index, head] = cache[site][:, index, head].to(z.dtype)
                return out

            patched = hooked.run_with_hooks(corrupted_ids, {site: patch_head})
            effects[layer, head] = (metric(patched).item() - corrupted_m) / (clean_m - corrupted_m)
    return effects


def attribution_patching(
    hooked: HookedModel,
    clean_ids: torch.Tensor,
    corrupted_ids: torch.Tensor,
    metric: Metric,
    kind: str = "hook_resid_pre",
) -> torch.Tensor:
    """First-order estimate of ``activation_patching`` from one backward pass: (n_layers, T)."""
    _check_pair(clean_ids, corrupted_ids)
    sites = _sites(hooked, kind)
    with torch.no_grad():
        clean_logits, clean_cache = hooked.run_with_cache(clean_ids, names=sites)
    corrupted_acts: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def fn(activation: torch.Tensor) -> None:
            activation.retain_grad()
            corrupted_acts[name] = activation

        return fn

    with torch.enable_grad(), hooked.hooks({site: keep(site) for site in sites}):
        corrupted_logits = hooked.model(input_ids=corrupted_ids).logits
        m = metric(corrupted_logits)
        m.backward()
    denominator = metric(clean_logits).item() - m.item()
    effects = torch.stack(
        [((clean_cache[s] - corrupted_acts[s].detach()) * corrupted_acts[s].grad)[0].sum(-1) for s in sites]
    )  # (n_layers, T)
    hooked.model.zero_grad(set_to_none=True)
    return effects / denominator
