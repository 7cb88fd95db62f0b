"""Routing analysis for mixture-of-experts models (Mixtral-style top-k routers in transformers).

load_e      = share of the N·k routing slots that go to expert e         (uniform: 1/E)
load CV     = std(load) / mean(load)                                    (0: perfectly balanced)
entropy     = E_tokens H(softmax(router logits))                        (ln E: undecided router)
I(D; X)     = mutual information between a token's domain D and the expert X it is sent to first
"""

from dataclasses import dataclass

import torch


@torch.no_grad()
def router_probabilities(model, input_ids: torch.Tensor) -> list[torch.Tensor]:
    """Per layer, the router's softmax over experts for every token: [(B·T, E)]."""
    out = model(input_ids=input_ids, output_router_logits=True)
    return [logits.float().softmax(-1) for logits in out.router_logits]


def expert_load(probs: torch.Tensor, k: int) -> torch.Tensor:
    """(E,) share of the top-k routing slots each expert receives."""
    chosen = probs.topk(k, dim=-1).indices.flatten()
    return torch.bincount(chosen, minlength=probs.shape[-1]).float() / chosen.numel()


def load_cv(load: torch.Tensor) -> float:
    return (load.std(unbiased=False) / load.mean()).item()


def load_cv_se(probs: torch.Tensor, k: int, n_rows: int, *, resamples: int = 200, seed: int = 0) -> float:
    """Bootstrap standard error of the load CV over the rows (sequences) the tokens came from: ``probs`` is
    (n_rows·T, E) in row order."""
    chosen = probs.topk(k, dim=-1).indices.view(n_rows, -1)  # (rows, T·k)
    counts = torch.stack(
        [torch.bincount(row, minlength=probs.shape[-1]) for row in chosen]
    ).float()  # (rows, E)
    generator = torch.Generator().manual_seed(seed)
    draws = torch.randint(0, n_rows, (resamples, n_rows), generator=generator)
    loads = counts[draws].sum(1)  # (resamples, E)
    cvs = loads.std(dim=1, unbiased=False) / loads.mean(dim=1)
    return cvs.std().item()


def routing_entropy(probs: torch.Tensor) -> float:
    return -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean().item()


def mutual_information(labels: torch.Tensor, experts: torch.Tensor, n_labels: int, n_experts: int) -> float:
    """I(label; expert) in nats from the empirical joint distribution."""
    joint = torch.zeros(n_labels, n_experts)
    joint.index_put_((labels, experts), torch.ones(len(labels)), accumulate=True)
    joint /= joint.sum()
    outer = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True)
    mask = joint > 0
    return (joint[mask] * (joint[mask] / outer[mask]).log()).sum().item()


@dataclass(frozen=True)
class LayerRouting:
    layer: int
    load: list[float]
    load_cv: float
    load_cv_se: float
    """Bootstrap standard error over evaluation rows."""
    entropy: float
    domain_information: float  # I(domain; first-choice expert), nats
    domain_loads: list[list[float]]  # (domains, experts): share of each domain's first choices


def analyze_routing(
    model, input_ids: torch.Tensor, domains: torch.Tensor, n_domains: int, k: int
) -> list[LayerRouting]:
    """Routing statistics per layer; ``domains`` (B,) labels each row, so every token inherits its row's domain."""
    token_domains = domains.repeat_interleave(input_ids.shape[1])
    layers = []
    for layer, probs in enumerate(router_probabilities(model, input_ids)):
        n_experts = probs.shape[-1]
        first = probs.argmax(-1)
        per_domain = [
            torch.bincount(first[token_domains == d], minlength=n_experts).float() for d in range(n_domains)
        ]
        load = expert_load(probs, k)
        layers.append(
            LayerRouting(
                layer=layer,
                load=load.tolist(),
                load_cv=load_cv(load),
                load_cv_se=load_cv_se(probs, k, input_ids.shape[0]),
                entropy=routing_entropy(probs),
                domain_information=mutual_information(token_domains, first, n_domains, n_experts),
                domain_loads=[(c / c.sum().clamp_min(1)).tolist() for c in per_domain],
            )
        )
    return layers
