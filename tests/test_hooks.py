import pytest
import torch

from alignlab.errors import AlignlabError
from alignlab.interp import HookedModel, add_direction, patch_from, zero_ablate
from alignlab.models import TOY_MODELS, build_toy_model


@pytest.fixture(scope="module", params=["toy-llama-tiny", "toy-mixtral-tiny"])
def hooked(request, toy_tokenizer_):
    model = build_toy_model(TOY_MODELS[request.param], toy_tokenizer_, seed=0).eval()
    return HookedModel(model)


IDS = torch.randint(7, 71, (2, 9), generator=torch.Generator().manual_seed(0))


def test_reading_every_site_leaves_logits_bit_identical(hooked):
    plain = hooked.model(input_ids=IDS).logits
    logits, cache = hooked.run_with_cache(IDS)
    assert torch.equal(plain, logits)
    assert set(cache) == set(hooked.site_names())
    assert not any(name.endswith("hook_pattern") for name in cache)  # sdpa attention: no patterns
    assert all(a.shape == (2, 9, 64) for name, a in cache.items() if not name.endswith("hook_z"))
    assert cache["blocks.0.attn.hook_z"].shape == (2, 9, 4, 16)


def test_head_outputs_project_to_the_attention_output(hooked):
    _, cache = hooked.run_with_cache(IDS, names=["blocks.1.attn.hook_z", "blocks.1.hook_attn_out"])
    o_proj = hooked.blocks[1].self_attn.o_proj
    assert torch.allclose(
        o_proj(cache["blocks.1.attn.hook_z"].flatten(-2)), cache["blocks.1.hook_attn_out"], atol=1e-6
    )


def test_ablating_a_head_removes_exactly_its_share_of_the_attention_output(hooked):
    from alignlab.interp import ablate_heads

    _, cache = hooked.run_with_cache(IDS, names=["blocks.0.attn.hook_z", "blocks.0.hook_attn_out"])
    with hooked.hooks({"blocks.0.attn.hook_z": ablate_heads([2])}):
        _, ablated = hooked.run_with_cache(IDS, names=["blocks.0.hook_attn_out"], stop_early=True)
    o_proj = hooked.blocks[0].self_attn.o_proj
    head_2 = cache["blocks.0.attn.hook_z"][:, :, 2] @ o_proj.weight[:, 32:48].T
    assert torch.allclose(
        cache["blocks.0.hook_attn_out"] - ablated["blocks.0.hook_attn_out"], head_2, atol=1e-5
    )


def test_attention_patterns_need_eager_attention(hooked):
    with pytest.raises(AlignlabError, match="attn_implementation='eager'"):
        hooked.run_with_cache(IDS, names=["blocks.0.attn.hook_pattern"])
    hooked.model.set_attn_implementation("eager")
    try:
        plain = hooked.model(input_ids=IDS).logits
        logits, cache = hooked.run_with_cache(IDS)
        pattern = cache["blocks.1.attn.hook_pattern"]
        assert torch.equal(logits, plain) and pattern.shape == (2, 4, 9, 9)
        assert torch.allclose(pattern.sum(-1), torch.ones(2, 4, 9))
        assert pattern.triu(1).abs().max() == 0  # causal: no weight on later tokens
        with pytest.raises(AlignlabError, match="read-only"):
            hooked.run_with_hooks(IDS, {"blocks.0.attn.hook_pattern": lambda p: p * 0})
    finally:
        hooked.model.set_attn_implementation("sdpa")


def test_a_prompt_longer_than_the_context_names_the_limit(hooked):
    too_long = torch.full((1, hooked.context_length + 1), 7)
    with pytest.raises(
        AlignlabError,
        match=f"{hooked.context_length + 1} tokens, longer than the model's limit of {hooked.context_length}",
    ):
        hooked.run_with_cache(too_long, names=["blocks.0.hook_resid_post"])


def test_sites_compose_like_the_residual_stream(hooked):
    _, cache = hooked.run_with_cache(IDS)
    for i in range(hooked.n_layers):
        pre, attn, mlp, post = (
            cache[f"blocks.{i}.{k}"]
            for k in ("hook_resid_pre", "hook_attn_out", "hook_mlp_out", "hook_resid_post")
        )
        assert torch.allclose(post, pre + attn + mlp, atol=1e-5)
        if i + 1 < hooked.n_layers:
            assert torch.equal(post, cache[f"blocks.{i + 1}.hook_resid_pre"])


def test_hooks_are_removed_even_after_an_error(hooked):
    def boom(activation):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        hooked.run_with_hooks(IDS, {"blocks.0.hook_mlp_out": boom, "blocks.1.hook_resid_pre": boom})
    modules = [hooked.final_norm, *hooked.model.modules()]
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in modules)
    assert torch.equal(hooked.run_with_hooks(IDS, {}), hooked.model(input_ids=IDS).logits)


def test_early_stop_caches_the_same_activations(hooked):
    _, full = hooked.run_with_cache(IDS)
    logits, early = hooked.run_with_cache(IDS, names=["blocks.0.hook_resid_post"], stop_early=True)
    assert logits is None and torch.equal(early["blocks.0.hook_resid_post"], full["blocks.0.hook_resid_post"])


def test_unknown_site_names_the_valid_ones(hooked):
    with pytest.raises(AlignlabError, match=r"no activation site 'blocks.9.hook_resid_post'.*N in 0..1"):
        hooked.run_with_cache(IDS, names=["blocks.9.hook_resid_post"])
    with pytest.raises(AlignlabError, match=r"no activation site 'blocks.0.hook_z'.*attn.hook_z"):
        hooked.run_with_hooks(IDS, {"blocks.0.hook_z": lambda a: None})


def test_patching_the_whole_residual_stream_restores_the_clean_run(hooked):
    clean, corrupted = IDS[:1], IDS[1:]
    clean_logits, cache = hooked.run_with_cache(clean)
    patched = hooked.run_with_hooks(
        corrupted, {"blocks.1.hook_resid_post": patch_from(cache["blocks.1.hook_resid_post"])}
    )
    assert torch.allclose(patched, clean_logits, atol=1e-5)
    only_last = hooked.run_with_hooks(
        corrupted, {"blocks.1.hook_resid_post": patch_from(cache["blocks.1.hook_resid_post"], positions=[8])}
    )
    assert torch.allclose(only_last[:, 8], clean_logits[:, 8], atol=1e-5)
    assert not torch.allclose(only_last[:, 0], clean_logits[:, 0], atol=1e-3)


def test_ablation_and_steering_change_what_they_touch(hooked):
    base = hooked.run_with_hooks(IDS, {})
    ablated = hooked.run_with_hooks(IDS, {"blocks.0.hook_mlp_out": zero_ablate(positions=[4])})
    assert torch.equal(ablated[:, :4], base[:, :4]) and not torch.allclose(ablated[:, 4:], base[:, 4:])
    direction = torch.randn(64)
    _, cache = hooked.run_with_cache(IDS, names=["blocks.1.hook_resid_pre"])
    with hooked.hooks({"blocks.0.hook_resid_post": add_direction(direction, scale=2.0)}):
        _, steered = hooked.run_with_cache(IDS, names=["blocks.1.hook_resid_pre"])
    assert torch.allclose(
        steered["blocks.1.hook_resid_pre"] - cache["blocks.1.hook_resid_pre"],
        2.0 * direction.expand(2, 9, 64),
        atol=1e-5,
    )


@pytest.mark.embedded
def test_embedded_model_logits_unchanged_by_caching_every_site(embedded):
    model, tokenizer = embedded
    hooked = HookedModel(model)
    ids = torch.tensor([tokenizer("The Eiffel Tower is in the city of")["input_ids"]])
    logits, cache = hooked.run_with_cache(ids)
    assert torch.equal(logits, model(input_ids=ids).logits)
    assert hooked.n_layers == 30 and cache["blocks.29.hook_resid_post"].shape == (1, ids.shape[1], 576)


def test_logit_lens_at_the_last_layer_is_the_models_output(hooked):
    from alignlab.interp import logit_lens

    lens = logit_lens(hooked, IDS, position=5)
    assert lens.shape == (len(IDS), hooked.n_layers, hooked.model.config.vocab_size)
    expected = hooked.model(input_ids=IDS).logits[:, 5].log_softmax(-1)
    assert torch.allclose(lens[:, -1], expected, atol=1e-5)
    assert not torch.allclose(lens[:, 0], expected, atol=1e-3)
    # right-padded rows of different lengths: each row is read at its own last real token
    mask = torch.ones_like(IDS)
    mask[0, 4:] = 0
    padded = logit_lens(hooked, IDS, mask)
    assert torch.allclose(padded[0], logit_lens(hooked, IDS[:1, :4])[0], atol=1e-5)
    assert torch.allclose(padded[1:], logit_lens(hooked, IDS[1:])[:], atol=1e-5)


def test_activation_patching_at_the_embedding_is_exact(hooked):
    """Block 0's resid_pre is the token embedding: patching the one differing position restores the clean
    run (effect 1) and patching any other position does nothing (effect 0)."""
    from alignlab.interp import activation_patching, attribution_patching, logit_difference

    clean = IDS[:1].clone()
    corrupted = clean.clone()
    corrupted[0, 3] = 7 if clean[0, 3] != 7 else 8
    clean_logits = hooked.model(input_ids=clean).logits
    corrupted_logits = hooked.model(input_ids=corrupted).logits
    good = int(clean_logits[0, -1].argmax())
    bad = (
        int(corrupted_logits[0, -1].argmax())
        if int(corrupted_logits[0, -1].argmax()) != good
        else (good + 1) % 71
    )
    metric = logit_difference(good, bad)
    effects = activation_patching(hooked, clean, corrupted, metric)
    assert effects.shape == (hooked.n_layers, 9)
    assert effects[0, 3].item() == pytest.approx(1.0, abs=1e-4)
    assert effects[0, [0, 1, 2, 4, 5, 6, 7, 8]].abs().max().item() < 1e-4
    assert effects[:, :3].abs().max().item() < 1e-4  # positions before the change never matter (causal)
    estimate = attribution_patching(hooked, clean, corrupted, metric)
    assert estimate.shape == effects.shape and estimate[:, :3].abs().max().item() < 1e-4
    assert torch.corrcoef(torch.stack([estimate.flatten(), effects.flatten()]))[0, 1] > 0.5
    with pytest.raises(AlignlabError, match="equal length"):
        activation_patching(hooked, clean, clean[:, :5], metric)
    # batched patching (many cells per forward pass) equals patching one cell per pass
    for kind in ("hook_resid_pre", "hook_mlp_out", "hook_attn_out"):
        one_at_a_time = activation_patching(hooked, clean, corrupted, metric, kind, batch_size=1)
        assert torch.allclose(
            activation_patching(hooked, clean, corrupted, metric, kind), one_at_a_time, atol=1e-4
        )


def test_head_patching_finds_only_heads_that_write_something(hooked):
    """A head whose output-projection columns are zero cannot matter (effect exactly 0); patching positions
    before the one that differs changes nothing (causal attention)."""
    import copy

    from alignlab.interp import head_patching, logit_difference

    model = copy.deepcopy(hooked.model)
    with torch.no_grad():
        model.model.layers[1].self_attn.o_proj.weight[:, 16:32] = 0  # head 1 of block 1 writes nothing
    silenced = HookedModel(model)
    clean = IDS[:1].clone()
    corrupted = clean.clone()
    corrupted[0, 3] = 7 if clean[0, 3] != 7 else 8
    logits = model(input_ids=torch.cat([clean, corrupted])).logits[:, -1]
    good, bad = int(logits[0].argmax()), int(logits[1].argmax())
    metric = logit_difference(good, bad if bad != good else (good + 1) % 71)
    effects = head_patching(silenced, clean, corrupted, metric)
    assert effects.shape == (silenced.n_layers, silenced.n_heads)
    assert effects[1, 1].item() == 0.0
    assert effects.abs().max().item() > 0.01
    early = head_patching(silenced, clean, corrupted, metric, layers=[0, 1], positions=[0, 1, 2])
    assert early.abs().max().item() < 1e-5


def test_gpt2_style_blocks_have_every_site_and_per_head_outputs():
    """GPT-2 keeps its blocks in transformer.h and projects heads with a Conv1D c_proj: every advertised site
    caches, reading them leaves the logits bit-identical, and per-head outputs project to the attention's."""
    from transformers import GPT2Config, GPT2LMHeadModel

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = GPT2LMHeadModel(
            GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=80, n_positions=16)
        ).eval()
    hooked = HookedModel(model)
    ids = torch.randint(0, 80, (2, 9), generator=torch.Generator().manual_seed(1))
    logits, cache = hooked.run_with_cache(ids)
    assert torch.equal(logits, model(input_ids=ids).logits) and set(cache) == set(hooked.site_names())
    assert cache["blocks.1.attn.hook_z"].shape == (2, 9, 4, 8)
    c_proj = model.transformer.h[1].attn.c_proj
    assert torch.allclose(
        c_proj(cache["blocks.1.attn.hook_z"].flatten(-2)), cache["blocks.1.hook_attn_out"], atol=1e-6
    )
