"""Linear probes on cached activations (Alain & Bengio 2016): does layer l linearly encode a label?

A logistic regression (scikit-learn) per layer, fitted on a training split and scored on a held-out split:
accuracy and AUROC. Activations are standardised with the training split's statistics.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import AlignlabError
from .hooks import HookedModel


@dataclass(frozen=True)
class ProbeResult:
    layer: int
    accuracy: float
    auroc: float
    n_train: int
    n_test: int


@torch.no_grad()
def residual_features(
    hooked: HookedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
) -> dict[int, np.ndarray]:
    """{layer: (N, d_model)} residual stream after each block at each sequence's last real token
    (right- or left-padded batches both work: the last position whose mask is 1)."""
    layers = list(layers) if layers is not None else list(range(hooked.n_layers))
    names = [f"blocks.{i}.hook_resid_post" for i in layers]
    mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
    device = next(hooked.model.parameters()).device
    features: dict[int, list[torch.Tensor]] = {i: [] for i in layers}
    for ids, m in zip(input_ids.split(batch_size), mask.split(batch_size), strict=True):
        last = m.shape[1] - 1 - m.flip(1).float().argmax(1)
        _, cache = hooked.run_with_cache(ids.to(device), m.to(device), names=names, stop_early=True)
        rows = torch.arange(len(ids))
        for i, name in zip(layers, names, strict=True):
            features[i].append(cache[name][rows, last.to(device)].float().cpu())
    return {i: torch.cat(f).numpy() for i, f in features.items()}


def probe_layers(
    features: dict[int, np.ndarray], labels: Sequence[int], *, test_fraction: float = 0.3, seed: int = 0
) -> list[ProbeResult]:
    """Fit one logistic-regression probe per layer on a stratified split; held-out accuracy and AUROC."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(labels)
    if set(np.unique(y)) != {0, 1}:
        raise AlignlabError(
            f"probe labels must be 0/1 with both present, got values {sorted(set(y.tolist()))}"
        )
    results = []
    for layer, x in features.items():
        if len(x) != len(y):
            raise AlignlabError(f"layer {layer}: {len(x)} activations but {len(y)} labels")
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=test_fraction, random_state=seed, stratify=y
        )
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
        probe.fit(x_train, y_train)
        scores = probe.predict_proba(x_test)[:, 1]
        results.append(
            ProbeResult(
                layer=layer,
                accuracy=float(((scores > 0.5) == y_test).mean()),
                auroc=float(roc_auc_score(y_test, scores)),
                n_train=len(y_train),
                n_test=len(y_test),
            )
        )
    return results
