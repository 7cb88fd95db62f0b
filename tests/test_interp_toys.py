import pytest
import torch

from alignlab.interp import HookedModel
from alignlab.interp.induction import (
    head_ablation_losses,
    periodic_sequences,
    prefix_matching_scores,
    repeated_random_tokens,
    token_losses,
)
from alignlab.interp.moe import analyze_routing, expert_load, load_cv, mutual_information, routing_entropy
from alignlab.interp.superposition import (
    ToySuperpositionModel,
    classify_two_feature_phase,
    representation,
    sparse_features,
    train_toy_model,
)
from alignlab.models import TOY_MODELS, ToyModelConfig, build_toy_model


def test_repeat_data_has_the_promised_structure():
    g = torch.Generator().manual_seed(0)
    ids = repeated_random_tokens(3, 5, 10, 20, g, bos=2)
    assert ids.shape == (3, 11) and (ids[:, 0] == 2).all() and torch.equal(ids[:, 1:6], ids[:, 6:])
    rows = periodic_sequences(50, 40, 10, 20, (4, 8), g, bos=2)
    assert (
        rows.shape == (50, 41)
        and (rows[:, 0] == 2).all()
        and ((rows[:, 1:] >= 10) & (rows[:, 1:] < 20)).all()
    )
    for row in rows[:, 1:]:  # each row repeats one segment of length 4..8 all the way
        assert any(torch.equal(row[m:], row[:-m]) for m in range(4, 9))


def test_prefix_matching_scores_a_hand_built_attention_pattern(toy_tokenizer_):
    """Replace layer 0's attention with an exact induction pattern and check the score reads 1 there."""
    model = build_toy_model(ToyModelConfig(n_layers=1, attention_only=True), toy_tokenizer_, seed=0)
    model.set_attn_implementation("eager")
    hooked = HookedModel(model)
    half = 6
    ids = repeated_random_tokens(2, half, 7, 60, torch.Generator().manual_seed(1), bos=2)
    scores = prefix_matching_scores(hooked, ids, half)
    assert scores.shape == (1, 4) and (scores >= 0).all() and (scores <= 1).all()
    perfect = torch.zeros(2, 4, 13, 13)
    for q in range(13):
        perfect[:, :, q, q - half + 1 if q >= 1 + half else 0] = 1.0
    attention = model.model.layers[0].self_attn
    handle = attention.register_forward_hook(lambda module, args, output: (output[0], perfect))
    try:
        assert torch.allclose(prefix_matching_scores(hooked, ids, half), torch.ones(1, 4))
        assert prefix_matching_scores(hooked, ids, half, per_sequence=True).shape == (1, 4, 2)
    finally:
        handle.remove()


def test_copying_score_of_a_hand_built_copying_head(toy_tokenizer_):
    from alignlab.interp.induction import copying_score

    model = build_toy_model(ToyModelConfig(n_layers=1, n_heads=4, d_model=64), toy_tokenizer_, seed=0)
    attention = model.model.layers[0].self_attn
    with torch.no_grad():  # head 0: V = O = identity on its 16 dimensions, so its OV circuit is W_E W_E^T
        attention.v_proj.weight[:16] = torch.eye(16, 64)
        attention.o_proj.weight[:, :16] = torch.eye(64, 16)
        attention.v_proj.weight[16:32] = -torch.eye(16, 64)  # head 1: the negative of it
        attention.o_proj.weight[:, 16:32] = torch.eye(64, 16)
    assert copying_score(model, 0, 0) == pytest.approx(1.0, abs=1e-6)
    assert copying_score(model, 0, 1) == pytest.approx(-1.0, abs=1e-6)


def test_attention_only_model_has_no_mlp_contribution_and_ablation_shapes(toy_tokenizer_):
    model = build_toy_model(ToyModelConfig(n_layers=2, attention_only=True), toy_tokenizer_, seed=0)
    hooked = HookedModel(model)
    ids = repeated_random_tokens(2, 5, 7, 60, torch.Generator().manual_seed(2), bos=2)
    _, cache = hooked.run_with_cache(ids, names=["blocks.1.hook_mlp_out"])
    assert cache["blocks.1.hook_mlp_out"].abs().max() == 0
    losses = token_losses(model, ids)
    assert losses.shape == (2, 10) and (losses > 0).all()
    ablated = head_ablation_losses(hooked, ids, 5)
    assert ablated.shape == (2, 4) and torch.isfinite(ablated).all()


def test_superposition_toy_packs_more_features_when_sparse():
    importance = 0.9 ** torch.arange(6, dtype=torch.float32)
    both = train_toy_model(6, 2, torch.tensor([0.0, 0.95]), importance, n_instances=2, steps=1500, seed=0)
    dense, sparse = representation(both, 0), representation(both, 1)
    assert dense.n_represented <= 2 < sparse.n_represented
    assert both.W.shape == (2, 2, 6) and both.b.shape == (2, 6)

    def worst_interference(rep):  # among represented features; a dropped one's direction means nothing
        return max(s for s, norm in zip(rep.superposition, rep.norms, strict=True) if norm > 0.5)

    assert worst_interference(dense) < 0.1 < worst_interference(sparse)


def test_matched_cosines_pair_each_feature_with_a_distinct_direction():
    from alignlab.interp.superposition import matched_cosines

    features = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    directions = torch.tensor([[0.0, 2.0], [1.0, 0.1], [0.9, 0.0]])  # the best for feature 0 is taken once
    assert sorted(matched_cosines(features, directions).tolist()) == pytest.approx([1.0, 1.0])
    same = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # greedy max-cosine would give both the same direction
    assert matched_cosines(features, same).tolist() == pytest.approx([1.0, 0.0], abs=1e-6)


def test_representation_and_phase_classification_by_hand():
    model = ToySuperpositionModel(2, 1)
    with torch.no_grad():
        model.W.copy_(torch.tensor([[[1.0, -1.0]]]))
    rep = representation(model)
    assert rep.norms == [1.0, 1.0] and rep.superposition == [1.0, 1.0] and rep.dimensions_per_feature == 0.5
    assert classify_two_feature_phase(model) == "superposition"
    with torch.no_grad():
        model.W.copy_(torch.tensor([[[0.0, 1.0]]]))
    assert classify_two_feature_phase(model) == "dedicated"
    with torch.no_grad():
        model.W.copy_(torch.tensor([[[1.0, 0.1]]]))
    assert classify_two_feature_phase(model) == "not represented"
    x = sparse_features(10_000, 3, 0.75, torch.Generator().manual_seed(0))
    assert (x > 0).float().mean().item() == pytest.approx(0.25, abs=0.02) and x.max() <= 1


def test_routing_statistics_by_hand():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.5, 0.1, 0.4]])
    load = expert_load(probs, k=1)
    assert load.tolist() == [0.75, 0.0, 0.25]
    assert load_cv(torch.tensor([0.25, 0.25, 0.25, 0.25])) == 0.0
    assert routing_entropy(torch.full((2, 4), 0.25)) == pytest.approx(torch.log(torch.tensor(4.0)).item())
    labels = torch.tensor([0, 0, 1, 1])
    assert mutual_information(labels, torch.tensor([0, 0, 1, 1]), 2, 2) == pytest.approx(0.6931, abs=1e-4)
    assert mutual_information(labels, torch.tensor([0, 1, 0, 1]), 2, 2) == pytest.approx(0.0, abs=1e-6)


def test_analyze_routing_on_a_toy_mixtral(toy_tokenizer_):
    config = TOY_MODELS["toy-mixtral-tiny"]
    model = build_toy_model(config, toy_tokenizer_, seed=0).eval()
    ids = torch.randint(7, 71, (4, 10), generator=torch.Generator().manual_seed(0))
    layers = analyze_routing(model, ids, torch.tensor([0, 1, 0, 1]), n_domains=2, k=config.experts_per_token)
    assert len(layers) == config.n_layers
    for layer in layers:
        assert sum(layer.load) == pytest.approx(1.0) and len(layer.load) == config.n_experts
        assert 0 <= layer.entropy <= torch.log(torch.tensor(float(config.n_experts))).item() + 1e-5
        assert all(sum(row) == pytest.approx(1.0) for row in layer.domain_loads)
