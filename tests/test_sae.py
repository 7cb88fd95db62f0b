import pytest
import torch

from alignlab.errors import AlignlabError
from alignlab.interp import HookedModel
from alignlab.interp.sae import (
    ActivationStore,
    ReconstructionStats,
    SAETrainer,
    build_sae,
    ce_loss_recovered,
    clamp_feature,
    evaluate_sae,
    explained_variance,
    l0,
    load_sae,
    sae_config,
    save_sae,
    stream_activations,
    train_sae,
)
from alignlab.interp.superposition import sparse_features

ARCHITECTURES = {
    "relu": dict(l1_coefficient=5.0),
    "topk": dict(k=2),
    "batchtopk": dict(k=2),
    "jumprelu": dict(l0_coefficient=1.0, jumprelu_init_threshold=0.1),
}


@pytest.fixture(scope="module")
def known_features():
    """32 unit directions in 16 dimensions, each active on 6% of samples: x = Σ_i c_i d_i."""
    generator = torch.Generator().manual_seed(0)
    directions = torch.randn(32, 16, generator=generator)
    directions /= directions.norm(dim=1, keepdim=True)
    return directions, sparse_features(8000, 32, 0.94, generator) @ directions


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_each_architecture_recovers_known_features(architecture, known_features):
    directions, x = known_features
    store = ActivationStore(x)
    config = sae_config(
        architecture, d_in=16, expansion=4, lr=3e-3, steps=600, batch_size=256, dead_feature_window=2000,
        **ARCHITECTURES[architecture],
    )  # fmt: skip
    sae = train_sae(config, store)
    decoder = sae.W_dec / sae.W_dec.norm(dim=1, keepdim=True)
    mean_max_cosine = (directions @ decoder.T).max(dim=1).values.mean().item()
    assert mean_max_cosine > 0.9
    evaluation = evaluate_sae(sae, x[:2000])
    assert 0.5 < evaluation.explained_variance <= 1 and 0 < evaluation.l0 < 8


def test_topk_keeps_exactly_k_and_batchtopk_k_per_token_on_average():
    x = torch.randn(64, 8)
    topk = build_sae(sae_config("topk", d_in=8, expansion=4, k=3))
    assert ((topk.encode(x) > 0).sum(-1) <= 3).all()
    batch = build_sae(sae_config("batchtopk", d_in=8, expansion=4, k=3)).train()
    active = (batch.encode(x) > 0).sum()
    assert active <= 3 * 64 and batch.batch_threshold > 0
    batch.eval()  # inference: a fixed threshold, so a token's code does not depend on the batch
    assert torch.allclose(batch.encode(x[:1]), batch.encode(x)[:1], atol=1e-6)


def test_jumprelu_threshold_gets_the_straight_through_gradient():
    sae = build_sae(sae_config("jumprelu", d_in=4, expansion=1, jumprelu_bandwidth=0.1))
    with torch.no_grad():
        sae.jumprelu_threshold.fill_(0.5)
    pre = torch.tensor([[0.52, 0.9, 0.1, 0.47]], requires_grad=True)
    sae.l0_penalty(pre).backward()
    # −(1/ε) K((pre − θ)/ε): only pre within ε/2 of θ pushes the threshold (up, to cut L0)
    assert sae.jumprelu_threshold.grad.tolist() == pytest.approx([-10.0, 0.0, 0.0, -10.0])
    assert pre.grad is None or pre.grad.abs().sum() == 0


def test_metrics_match_hand_computed_values():
    x = torch.tensor([[1.0, 0.0], [3.0, 2.0], [2.0, 4.0]])
    x_hat = torch.tensor([[1.0, 1.0], [2.0, 2.0], [2.0, 4.0]])
    # mean (2, 2); total variance (1+4) + (1+0) + (0+4) = 10; squared error 1 + 1 + 0 = 2
    assert explained_variance(x, x_hat) == pytest.approx(1 - 2 / 10)
    stats = ReconstructionStats()
    stats.update(x[:2], x_hat[:2])
    stats.update(x[2:], x_hat[2:])
    assert stats.explained_variance == pytest.approx(0.8) and stats.mse == pytest.approx(2 / 3)
    assert l0(torch.tensor([[0.0, 2.0, 0.5], [0.0, 0.0, 0.0]])) == 1.0


def _identity_sae(d: int):
    """relu(x) − relu(−x) = x: an SAE with latents ±e_i reconstructs exactly."""
    sae = build_sae(sae_config("relu", d_in=d, expansion=2))
    eye = torch.eye(d)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], dim=1))
        sae.W_dec.copy_(torch.cat([eye, -eye], dim=0))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae.eval()


def test_a_perfect_sae_scores_perfectly_and_counts_dead_and_dense_latents():
    x = torch.tensor([[1.0, 0.0, -2.0], [0.5, 0.0, 3.0], [2.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    evaluation = evaluate_sae(_identity_sae(3), x, dense_threshold=0.5)
    assert evaluation.explained_variance == pytest.approx(1.0) and evaluation.l0 == 2.0
    # latents +e0 (4/4), +e1 (0), +e2 (3/4), −e0 (0), −e1 (0), −e2 (1/4)
    assert evaluation.frequencies.tolist() == [1.0, 0.0, 0.75, 0.0, 0.0, 0.25]
    assert evaluation.dead_fraction == pytest.approx(3 / 6) and evaluation.dense_fraction == pytest.approx(
        2 / 6
    )


def test_ce_recovered_is_one_for_a_perfect_sae_and_clamping_moves_only_one_direction(toy):
    model, tokenizer = toy
    hooked = HookedModel(model)
    blocks = torch.randint(7, len(tokenizer), (4, 12), generator=torch.Generator().manual_seed(0))
    sae = _identity_sae(model.config.hidden_size)
    result = ce_loss_recovered(hooked, sae, "blocks.0.hook_resid_post", blocks)
    assert result["recovered"] == pytest.approx(1.0, abs=1e-4) and result["zero"] > result["clean"]
    assert result["recovered_mean"] == pytest.approx(1.0, abs=1e-4) and result["increase"] == pytest.approx(
        0, abs=1e-4
    )
    assert result["clean"] < result["mean"]  # mean-ablation loses information too, if less than zeroing
    _, before = hooked.run_with_cache(blocks, names=["blocks.0.hook_resid_post"])
    with hooked.hooks({"blocks.0.hook_resid_post": clamp_feature(sae, 0, 5.0)}):
        _, after = hooked.run_with_cache(blocks, names=["blocks.0.hook_resid_post"])
    delta = after["blocks.0.hook_resid_post"] - before["blocks.0.hook_resid_post"]
    feature_0 = before["blocks.0.hook_resid_post"][:, 1:, 0].relu()  # latent 0 reads +e0
    assert torch.allclose(delta[:, 1:, 0], 5.0 - feature_0, atol=1e-5)
    assert delta[..., 1:].abs().max() == 0 and delta[:, 0].abs().max() == 0


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_saved_sae_reloads_with_identical_outputs(architecture, tmp_path, known_features):
    _, x = known_features
    config = sae_config(
        architecture, d_in=16, d_sae=40, steps=20, batch_size=128, **ARCHITECTURES[architecture]
    )
    sae = train_sae(config, ActivationStore(x))  # d_sae 40: any width, not only a multiple of d_in
    path = save_sae(sae, tmp_path / architecture, model_name="toy", hook_name="blocks.0.hook_resid_post")
    assert {p.name for p in path.iterdir()} == {"cfg.json", "sae_weights.safetensors"}
    loaded = load_sae(path)
    assert torch.equal(loaded(x[:100]).reconstruction, sae(x[:100]).reconstruction)
    batched = x[:100].view(4, 25, 16)  # (batch, positions, d_in), as at a hook site
    assert torch.allclose(sae(batched).reconstruction.view(100, 16), sae(x[:100]).reconstruction, atol=1e-6)
    assert torch.equal(loaded.encode(x[:100]), sae.encode(x[:100]))


def test_saelens_opens_our_sae_with_the_same_outputs(tmp_path, known_features):
    sae_lens = pytest.importorskip("sae_lens")  # installed by the `bench` extra
    _, x = known_features
    for architecture, extra in ARCHITECTURES.items():
        sae = train_sae(
            sae_config(architecture, d_in=16, expansion=2, steps=20, batch_size=128, **extra),
            ActivationStore(x),
        )
        path = save_sae(sae, tmp_path / architecture)
        theirs = sae_lens.SAE.load_from_disk(str(path))
        assert torch.allclose(theirs(x[:100]), sae(x[:100]).reconstruction, atol=1e-5), architecture


def test_bad_sae_inputs_name_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match=r"k \(99\) must be between 1 and d_sae \(32\)"):
        sae_config("topk", d_in=8, expansion=4, k=99)
    with pytest.raises(ValueError, match="unknown SAE architecture 'gated'; architectures: relu, topk"):
        sae_config("gated", d_in=8)
    with pytest.raises(ValueError, match="l1_coefficient"):  # a field of another architecture
        sae_config("topk", d_in=8, l1_coefficient=1.0)
    with pytest.raises(ValueError, match=r"batches must be \(batch_size, d_in\) = \(4, 8\)"):
        train_sae(sae_config("topk", d_in=8, k=2, batch_size=4), iter([torch.zeros(3, 8)]))
    with pytest.raises(AlignlabError, match="not an SAE folder"):
        load_sae(tmp_path)
    with pytest.raises(AlignlabError, match=r"activations must be \(tokens, d_in\)"):
        ActivationStore(torch.zeros(2, 3, 4))


def test_activation_store_caches_streams_and_round_trips(toy, tmp_path):
    model, tokenizer = toy
    hooked = HookedModel(model)
    blocks = torch.randint(7, len(tokenizer), (6, 10), generator=torch.Generator().manual_seed(1))
    store = ActivationStore.from_model(hooked, "blocks.1.hook_resid_post", blocks, batch_size=4)
    assert store.activations.shape == (6 * 9, model.config.hidden_size)  # BOS position left out
    _, cache = hooked.run_with_cache(blocks, names=["blocks.1.hook_resid_post"])
    assert torch.allclose(store.activations[:9], cache["blocks.1.hook_resid_post"][0, 1:])
    loaded = ActivationStore.load(store.save(tmp_path / "cache"))
    assert torch.equal(loaded.activations, store.activations) and loaded.site == "blocks.1.hook_resid_post"
    streamed = torch.cat(
        list(
            stream_activations(
                hooked, "blocks.1.hook_resid_post", iter(blocks.split(2)), batch_size=6, buffer_tokens=20
            )
        )
    )
    assert streamed.shape == store.activations.shape  # every token served once, in a shuffled order
    assert torch.allclose(streamed.sum(0), store.activations.sum(0), atol=1e-4)
    assert not torch.equal(streamed, store.activations)


def test_sae_training_resumes_to_the_same_weights_and_exposes_a_step(tmp_path, known_features):
    """Crash mid-run, resume from the checkpoint: the same SAE (dead-latent counts included) as a run without
    the crash. And ``SAETrainer.train_step`` trains from a loop of one's own."""
    _, x = known_features
    config = sae_config("topk", d_in=16, expansion=2, k=2, steps=12, batch_size=64, dead_feature_window=128)
    straight = train_sae(config, ActivationStore(x), seed=3)

    class Crash(Exception):
        pass

    def crash_at_7(step, record):
        if step == 7:
            raise Crash

    with pytest.raises(Crash):
        train_sae(config, ActivationStore(x), seed=3, checkpoint_dir=tmp_path, checkpoint_every=5, log_every=1,
                  on_log=crash_at_7)  # fmt: skip
    resumed = train_sae(config, ActivationStore(x), seed=3, checkpoint_dir=tmp_path, checkpoint_every=5)
    for name, p in straight.state_dict().items():
        assert torch.allclose(p, resumed.state_dict()[name], atol=1e-6), name

    sae = build_sae(config.model_copy(update={"lr": 3e-3}))
    trainer = SAETrainer(sae)
    first = trainer.train_step(x[:64])
    for _ in range(60):
        last = trainer.train_step(x[:64])
    assert last["loss"] < first["loss"] and {"mse", "l0", "aux_k"} <= set(last)
    assert torch.allclose(
        sae.W_dec.norm(dim=1), torch.ones(config.d_sae), atol=1e-5
    )  # unit-norm decoder kept


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_module_loss_splits_reconstruction_sparsity_and_auxiliary_terms(architecture, known_features):
    from alignlab.interp.sae import TrainingState

    _, x = known_features
    sae = build_sae(sae_config(architecture, d_in=16, d_sae=40, **ARCHITECTURES[architecture]))  # 2.5 x d_in
    dead = torch.ones(40, dtype=torch.bool)  # every latent dead: AuxK has something to train
    loss = sae.loss(x[:256], TrainingState(1.0, dead))
    expected = (sae(x[:256]).reconstruction - x[:256]).pow(2).sum(-1).mean()
    assert loss.reconstruction.item() == pytest.approx(expected.item())
    assert loss.total.item() == pytest.approx((loss.reconstruction + loss.sparsity + loss.auxiliary).item())
    if architecture in ("relu", "jumprelu"):
        assert loss.sparsity > 0 and loss.auxiliary == 0
    else:  # TopK: k bounds the density, and the auxiliary term is AuxK
        assert loss.sparsity == 0 and loss.auxiliary > 0 and set(loss.terms) == {"aux_k"}
    trainer = SAETrainer(sae)
    trainer.dead.tokens_since_fired[:] = 1e9
    assert trainer.loss(sae, x[:256], 1.0).loss.item() == pytest.approx(loss.total.item(), rel=1e-5)


def test_feature_statistics_count_and_share_active_and_dead_latents():
    from alignlab.interp.sae import feature_statistics

    codes = torch.tensor([[0.0, 1.0, 0.0, 2.0], [0.0, 3.0, 0.0, 0.0]])
    stats = feature_statistics(codes)
    assert (stats.tokens, stats.total, stats.active, stats.dead) == (2, 4, 2, 2)
    assert stats.mean_activation == pytest.approx(2.0)  # latent 1: (1 + 3) / 2; latent 3: 2
    assert stats.mean_l0 == 1.5 and stats.share_active_per_token == pytest.approx(1.5 / 4)
    assert stats.active_fraction == stats.dead_fraction == 0.5


def test_an_sae_trains_on_a_bert_encoders_activations_in_a_users_own_loop():
    from transformers import BertConfig, BertModel

    from alignlab.interp.sae import feature_statistics, hidden_state_activations

    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=32, max_position_embeddings=32)).eval()  # fmt: skip
    ids = torch.randint(5, 60, (64, 12))
    mask = torch.ones_like(ids)
    mask[::2, 9:] = 0  # padding, which must be left out
    acts = hidden_state_activations(bert, ids, layer=2, attention_mask=mask)
    assert acts.shape == (int(mask.sum()), 16)
    with pytest.raises(AlignlabError, match="layer 7 does not exist"):
        hidden_state_activations(bert, ids, layer=7)
    sae = build_sae(sae_config("topk", d_in=16, d_sae=40, k=4, lr=3e-3, steps=300, batch_size=128))
    trainer = SAETrainer(sae)
    generator = torch.Generator().manual_seed(0)
    history = [
        trainer.train_step(acts[torch.randint(len(acts), (128,), generator=generator)]) for _ in range(300)
    ]
    assert history[-1]["mse"] < 0.5 * history[0]["mse"] and history[-1]["l0"] <= 4
    stats = feature_statistics(sae.encode(acts))
    assert stats.total == 40 and stats.active + stats.dead == 40 and stats.mean_l0 <= 4


def test_top_features_of_a_text_and_direction_norms_in_the_report(toy):
    from alignlab.interp.sae import feature_activations, site_activations, summarize_features, top_features

    model, tokenizer = toy
    hooked = HookedModel(model)
    sae = _identity_sae(model.config.hidden_size)
    with torch.no_grad():
        sae.W_dec[3] *= 2.0
    site = "blocks.0.hook_resid_post"
    top = top_features(hooked, sae, site, tokenizer, "w1 w2 w3 w4", k=5)
    ids = torch.tensor([tokenizer("w1 w2 w3 w4")["input_ids"]])
    codes = sae.encode(site_activations(hooked, site, ids))
    assert len(top.tokens) == len(top.per_token) == ids.shape[1] - 1
    for row, pairs in zip(codes, top.per_token, strict=True):
        assert [f for f, _ in pairs] == row.topk(5).indices.tolist()[: len(pairs)]
        assert [v for _, v in pairs] == pytest.approx(row.topk(5).values.tolist()[: len(pairs)])
    assert [v for _, v in top.overall] == sorted((v for _, v in top.overall), reverse=True)
    assert top.overall[0][1] == pytest.approx(codes.max().item())
    blocks = ids.repeat(2, 1)
    [summary] = summarize_features(
        hooked, sae, [3], feature_activations(hooked, sae, site, blocks), blocks, tokenizer
    )
    assert summary.direction_norm == pytest.approx(2.0)


def test_contrast_features_rank_by_effect_size_and_a_monitor_flags_prompts_before_the_answer(toy):
    from alignlab.interp.sae import FeatureMonitor, contrast_features, feature_changes, last_token_codes

    positive = torch.tensor([[0.0, 2.0, 1.0], [0.0, 2.2, 0.9], [0.0, 1.8, 1.1]])
    negative = torch.tensor([[0.0, 0.1, 1.0], [0.0, 0.0, 1.2], [0.0, 0.2, 0.8]])
    [first, second] = contrast_features(positive, negative, top=3)  # latent 0 never fires: left out
    assert first.feature == 1 and first.effect_size > 10 and abs(second.effect_size) < 0.5
    assert first.mean_positive == pytest.approx(2.0) and first.mean_negative == pytest.approx(0.1)
    with pytest.raises(AlignlabError, match="at least 2 prompts"):
        contrast_features(positive[:1], negative)

    model, tokenizer = toy
    hooked, site = HookedModel(model), "blocks.0.hook_resid_post"
    sae = _identity_sae(model.config.hidden_size)  # latent i reads +e_i: its activation is the coordinate
    prompts = ["w1 w2 w3", "w4 w5", "w6", "w7 w8 w9"]
    codes = last_token_codes(hooked, sae, site, tokenizer, prompts)
    from alignlab.scoring.encode import encode_prompts

    [ids] = encode_prompts(tokenizer, ["w6"], chat=True)
    _, cache = hooked.run_with_cache(torch.tensor([ids]), names=[site])
    assert torch.allclose(codes[2], sae.encode(cache[site][0, -1]), atol=1e-5)
    watched = int(codes[:, : model.config.hidden_size].max(0).values.argmax())
    threshold = float(codes[:, watched].median())
    readings = FeatureMonitor(hooked, sae, site, tokenizer, {watched: threshold}).check(prompts)
    assert [r.flagged for r in readings] == [float(c) > threshold for c in codes[:, watched]]
    with pytest.raises(IndexError):
        FeatureMonitor(hooked, sae, site, tokenizer, {10_000: 1.0})

    before = torch.tensor([[1.0, 0.0, 0.5], [1.0, 0.0, 0.0]])
    after = torch.tensor([[1.0, 2.0, 0.0], [1.0, 4.0, 0.0]])
    changes = feature_changes(before, after)
    assert [c.feature for c in changes] == [1, 2] and changes[0].frequency_change == 1.0
    assert changes[0].mean_after == 3.0 and changes[1].frequency_before == 0.5
