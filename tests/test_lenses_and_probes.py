import pytest
import torch

from alignlab.errors import AlignlabError
from alignlab.interp import HookedModel, logit_lens
from alignlab.interp.probes import probe_layers, residual_features
from alignlab.interp.tuned_lens import TunedLens, lens_kl_by_layer, lens_logprobs, train_tuned_lens


@pytest.fixture(scope="module")
def hooked_toy(toy):
    return HookedModel(toy[0])


def _blocks(n: int, seed: int) -> torch.Tensor:
    from alignlab.data.synthetic import MarkovLanguage

    ids = torch.from_numpy(MarkovLanguage().sample(n, 24, seed=seed) + 7)
    return torch.cat([torch.full((n, 1), 2), ids], dim=1)  # BOS first, as token_blocks packs them


def test_untrained_tuned_lens_is_the_logit_lens(hooked_toy):
    lens = TunedLens.for_model(hooked_toy)
    ids = _blocks(1, seed=5)
    _, cache = hooked_toy.run_with_cache(ids, names=["blocks.0.hook_resid_post"])
    resid = cache["blocks.0.hook_resid_post"][0, -1]
    assert torch.allclose(
        lens_logprobs(hooked_toy, resid, 0, lens), logit_lens(hooked_toy, ids)[0, 0], atol=1e-6
    )


def test_training_lowers_held_out_kl_and_the_lens_reloads_identically(hooked_toy, tmp_path):
    train, held_out = _blocks(64, seed=1), _blocks(16, seed=2)
    before = lens_kl_by_layer(hooked_toy, held_out)
    lens = train_tuned_lens(hooked_toy, train, steps=40, batch_size=8, lr=3e-3)
    after = lens_kl_by_layer(hooked_toy, held_out, lens)
    assert after[0] < 0.7 * before[0]
    assert all(p.requires_grad for p in hooked_toy.model.parameters())  # the model is unfrozen afterwards
    loaded = TunedLens.load(lens.save(tmp_path / "lens", model="toy"))
    resid = torch.randn(3, hooked_toy.model.config.hidden_size)
    assert torch.equal(loaded(resid, 0), lens(resid, 0))
    with pytest.raises(AlignlabError, match="not a tuned lens"):
        TunedLens.load(tmp_path)
    with pytest.raises(AlignlabError, match=r"layers must be in 0..0"):
        train_tuned_lens(hooked_toy, train, steps=1, layers=[1])


def test_probe_finds_a_linearly_encoded_label_and_not_a_random_one(hooked_toy):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(7, 71, (300, 8), generator=generator)
    mask = torch.ones_like(ids)
    mask[::2, 6:] = 0  # half the rows end early: features come from the last real token
    features = residual_features(hooked_toy, ids, mask)
    last = ids[torch.arange(300), mask.sum(1) - 1]
    label = (last % 2).tolist()  # which token the sequence ends with: in the residual stream at every layer
    results = probe_layers(features, label)
    assert [r.layer for r in results] == [0, 1] and all(r.auroc > 0.9 for r in results)
    random_label = torch.randint(0, 2, (300,), generator=generator).tolist()
    assert all(abs(r.auroc - 0.5) < 0.15 for r in probe_layers(features, random_label))
    with pytest.raises(AlignlabError, match="299 labels"):
        probe_layers(features, random_label[:-1])
