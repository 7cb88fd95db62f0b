"""Every loss against hand-computed values and its closed form at initialisation."""

import math

import pytest
import torch
import torch.nn.functional as F

from alignlab.losses import (
    PAIRWISE_LOSSES,
    AdaptiveKLController,
    bradley_terry,
    dpo_loss,
    dr_dpo_loss,
    gae,
    group_advantages,
    grpo_loss,
    hinge_loss,
    hinton_distillation,
    implicit_reward,
    ipo_loss,
    kl_penalty,
    kto_loss,
    masked_nll,
    ppo_policy_loss,
    ppo_value_loss,
    robust_dpo_loss,
    token_kl,
)

t = torch.tensor
sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731


def pair(pc, pr, rc, rr):
    return t([pc]), t([pr]), t([rc]), t([rr])


# --- SFT and reward model ---------------------------------------------------------------------------


def test_masked_nll_averages_completion_tokens_only():
    logps = t([[-1.0, -2.0, -9.0], [-4.0, -9.0, -9.0]])
    mask = t([[1, 1, 0], [1, 0, 0]])
    assert masked_nll(logps, mask).loss.item() == pytest.approx((1 + 2 + 4) / 3)


def test_bradley_terry_by_hand_with_margin_and_centering():
    out = bradley_terry(t([2.0, 0.0]), t([1.0, 1.0]))
    assert out.loss.item() == pytest.approx((-math.log(sig(1)) - math.log(sig(-1))) / 2)
    assert out.metrics["accuracy"] == 0.5
    with_margin = bradley_terry(t([2.0]), t([1.0]), margin=t([1.0]))
    assert with_margin.loss.item() == pytest.approx(math.log(2))
    centred = bradley_terry(t([2.0]), t([1.0]), center_coef=0.1)
    assert centred.loss.item() == pytest.approx(-math.log(sig(1)) + 0.1 * 9)


def test_bradley_terry_equal_rewards_is_ln2():
    assert bradley_terry(t([0.3, -1.0]), t([0.3, -1.0])).loss.item() == pytest.approx(math.log(2))


# --- the DPO family ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sigmoid", "robust", "dr_dpo"])
def test_dpo_family_is_ln2_when_policy_equals_reference(name):
    logps = t([-5.0, -7.0, -3.0])
    out = PAIRWISE_LOSSES[name](logps, logps - 1, logps, logps - 1, beta=0.3)
    assert out.loss.item() == pytest.approx(math.log(2))
    assert out.metrics["reward_margin"] == 0


def test_dpo_by_hand():
    # rho_w = (-4) - (-5) = 1, rho_l = (-6) - (-5) = -1, h = 2, beta = 0.5 -> -log sigma(1)
    out = dpo_loss(*pair(-4.0, -6.0, -5.0, -5.0), beta=0.5)
    assert out.loss.item() == pytest.approx(-math.log(sig(1.0)))
    assert out.metrics["chosen_reward"] == pytest.approx(0.5) and out.metrics[
        "rejected_reward"
    ] == pytest.approx(-0.5)
    smoothed = dpo_loss(*pair(-4.0, -6.0, -5.0, -5.0), beta=0.5, label_smoothing=0.2)
    assert smoothed.loss.item() == pytest.approx(-0.8 * math.log(sig(1)) - 0.2 * math.log(sig(-1)))


def test_implicit_reward():
    assert implicit_reward(t([-3.0]), t([-5.0]), beta=0.1).item() == pytest.approx(0.2)


def test_robust_dpo_by_hand_and_unbiased_under_flips():
    eps, beta = 0.2, 1.0
    out = robust_dpo_loss(*pair(-4.0, -6.0, -5.0, -5.0), beta=beta, label_smoothing=eps)
    expected = ((1 - eps) * -math.log(sig(2)) - eps * -math.log(sig(-2))) / (1 - 2 * eps)
    assert out.loss.item() == pytest.approx(expected)
    # unbiasedness: averaged over a label flipped with probability eps, rDPO equals the clean DPO loss
    flipped = robust_dpo_loss(*pair(-6.0, -4.0, -5.0, -5.0), beta=beta, label_smoothing=eps).loss.item()
    assert (1 - eps) * out.loss.item() + eps * flipped == pytest.approx(-math.log(sig(2)))
    with pytest.raises(ValueError):
        robust_dpo_loss(*pair(0.0, 0.0, 0.0, 0.0), label_smoothing=0.5)


def test_ipo_by_hand_and_its_minimum():
    beta = 0.25  # target h = 1 / (2 beta) = 2
    assert ipo_loss(*pair(-4.0, -6.0, -5.0, -5.0), beta=beta).loss.item() == pytest.approx(0.0)
    assert ipo_loss(*pair(-5.0, -5.0, -5.0, -5.0), beta=beta).loss.item() == pytest.approx(4.0)


def test_hinge_by_hand():
    assert hinge_loss(*pair(-4.0, -6.0, -5.0, -5.0), beta=0.25).loss.item() == pytest.approx(0.5)
    assert hinge_loss(*pair(-4.0, -6.0, -5.0, -5.0), beta=1.0).loss.item() == 0.0


def test_dr_dpo_is_a_soft_minimum_of_dpo_losses():
    pc, pr = t([-4.0, -6.0]), t([-6.0, -4.0])
    ref = t([-5.0, -5.0])
    per_pair = -F.logsigmoid(t([2.0, -2.0]))  # beta = 1
    out = dr_dpo_loss(pc, pr, ref, ref, beta=1.0, beta_prime=0.5)
    expected = -0.5 * math.log(torch.exp(-per_pair / 0.5).mean().item())
    assert out.loss.item() == pytest.approx(expected)
    assert (
        per_pair.min() < out.loss.item() < per_pair.mean()
    )  # softer than the mean: noisy pair down-weighted
    large = dr_dpo_loss(pc, pr, ref, ref, beta=1.0, beta_prime=1e4).loss.item()
    assert large == pytest.approx(per_pair.mean().item(), rel=1e-3)


def test_kto_by_hand_and_at_initialisation():
    policy, ref = t([-4.0, -6.0]), t([-5.0, -5.0])
    desirable = t([True, False])
    out = kto_loss(policy, ref, desirable, t(0.5), beta=1.0, desirable_weight=2.0)
    expected = (2 * (1 - sig(1 - 0.5)) + (1 - sig(0.5 - (-1)))) / 2
    assert out.loss.item() == pytest.approx(expected)
    at_init = kto_loss(ref, ref, desirable, t(-3.0))  # KL estimate clamped at 0
    assert at_init.loss.item() == pytest.approx(0.5) and at_init.metrics["kl_estimate"] == 0


def test_dpo_gradient_raises_chosen_and_lowers_rejected():
    pc, pr = t([-5.0], requires_grad=True), t([-5.0], requires_grad=True)
    dpo_loss(pc, pr, t([-5.0]), t([-5.0]), beta=0.1).loss.backward()
    assert pc.grad.item() == pytest.approx(-0.05) and pr.grad.item() == pytest.approx(0.05)  # beta * sigma(0)


# --- policy gradient -----------------------------------------------------------------------------------


def test_kl_estimators_by_hand():
    logp, ref = t([-1.0]), t([-2.0])
    assert kl_penalty(logp, ref, "k1").item() == pytest.approx(1.0)
    assert kl_penalty(logp, ref, "k3").item() == pytest.approx(math.exp(-1) + 1 - 1)
    assert kl_penalty(ref, ref, "k3").item() == 0


def test_kl_estimators_are_unbiased_for_the_true_kl():
    torch.manual_seed(0)
    p, q = torch.softmax(t([1.0, 0.0, -1.0]), 0), torch.softmax(t([0.0, 0.5, 0.0]), 0)
    true_kl = (p * (p / q).log()).sum().item()
    samples = torch.multinomial(p, 200_000, replacement=True)
    for estimator in ("k1", "k3"):
        estimate = kl_penalty(p.log()[samples], q.log()[samples], estimator).mean().item()
        assert estimate == pytest.approx(true_kl, abs=0.01)


def test_gae_by_hand():
    rewards, values = t([[0.0, 0.0, 1.0]]), t([[0.5, 0.6, 0.7]])
    mask = t([[1, 1, 1]])
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    # lam = gamma = 1: A_t = sum of future rewards - V_t
    assert advantages[0].tolist() == pytest.approx([0.5, 0.4, 0.3])
    assert returns[0].tolist() == pytest.approx([1.0, 1.0, 1.0])
    advantages, _ = gae(rewards, values, mask, gamma=0.9, lam=0.5)
    d2 = 1 - 0.7
    d1 = 0.9 * 0.7 - 0.6
    d0 = 0.9 * 0.6 - 0.5
    a1 = d1 + 0.45 * d2
    assert advantages[0].tolist() == pytest.approx([d0 + 0.45 * a1, a1, d2])


def test_gae_ignores_padding():
    rewards, values = t([[0.0, 1.0, 5.0]]), t([[0.5, 0.6, 9.0]])
    advantages, _ = gae(rewards, values, t([[1, 1, 0]]), gamma=1.0, lam=1.0)
    assert advantages[0].tolist() == pytest.approx([0.5, 0.4, 0.0])


def test_ppo_policy_loss_clips():
    mask = t([[1, 1]])
    old = t([[0.0, 0.0]])
    new = torch.log(t([[1.5, 0.5]]))
    out = ppo_policy_loss(new, old, t([[1.0, -1.0]]), mask, clip=0.2)
    # A=+1, ratio 1.5 -> clipped to 1.2 -> -1.2 ; A=-1, ratio 0.5 -> max(0.5, 0.8) = 0.8
    assert out.loss.item() == pytest.approx((-1.2 + 0.8) / 2)
    assert out.metrics["clip_fraction"] == 1.0
    same = ppo_policy_loss(old, old, t([[1.0, -1.0]]), mask)
    assert same.loss.item() == pytest.approx(0.0) and same.metrics["clip_fraction"] == 0


def test_ppo_value_loss_clips():
    out = ppo_value_loss(t([[2.0]]), t([[1.0]]), t([[3.0]]), t([[1]]), clip=0.5)
    assert out.loss.item() == pytest.approx(0.5 * max(1.0, (1.5 - 3) ** 2))


def test_adaptive_kl_controller():
    controller = AdaptiveKLController(0.1, target=6.0, horizon=100)
    controller.update(observed_kl=12.0, n_steps=10)  # error clipped at +0.2
    assert controller.value == pytest.approx(0.1 * 1.02)
    controller.update(observed_kl=6.0, n_steps=10)
    assert controller.value == pytest.approx(0.1 * 1.02)


def test_group_advantages():
    rewards = t([1.0, 0.0, 1.0, 0.0, 3.0, 3.0])
    a = group_advantages(rewards, group_size=2)
    assert a[:4].tolist() == pytest.approx(
        [0.5 / (math.sqrt(0.5) + 1e-4), -0.5 / (math.sqrt(0.5) + 1e-4)] * 2
    )
    assert a[4:].tolist() == [0.0, 0.0]  # a group with equal rewards teaches nothing
    assert group_advantages(rewards, 2, scale=False).tolist() == [0.5, -0.5, 0.5, -0.5, 0.0, 0.0]


def test_grpo_at_initialisation_and_normalizations():
    logps = t([[-1.0, -2.0, 0.0], [-1.0, 0.0, 0.0]])
    mask = t([[1, 1, 0], [1, 0, 0]])
    adv = t([1.0, -1.0])
    out = grpo_loss(logps, logps, logps, adv, mask, beta=0.1)
    # ratio = 1 and k3 = 0: each token contributes -A; sequence means are -1 and +1
    assert out.loss.item() == pytest.approx(0.0) and out.metrics["kl"] == 0
    token = grpo_loss(logps, logps, logps, adv, mask, normalization="token")
    assert token.loss.item() == pytest.approx((-1 - 1 + 1) / 3)
    dr = grpo_loss(logps, logps, logps, adv, mask, normalization="dr_grpo", max_completion_length=4)
    assert dr.loss.item() == pytest.approx((-2 + 1) / (2 * 4))


def test_grpo_kl_term_uses_k3():
    logps, ref = t([[-1.0]]), t([[-2.0]])
    out = grpo_loss(logps, logps, ref, t([0.0]), t([[1]]), beta=0.5)
    assert out.loss.item() == pytest.approx(0.5 * (math.exp(-1) + 1 - 1))
    no_kl = grpo_loss(logps, logps, None, t([0.0]), t([[1]]), beta=0.5)
    assert no_kl.loss.item() == 0


# --- distillation --------------------------------------------------------------------------------------


def test_hinton_distillation_by_hand():
    student, teacher = t([[0.0, 0.0]]), t([[2.0, 0.0]])
    temperature = 2.0
    p = torch.softmax(teacher / temperature, -1)
    kl = (p * (p.log() - math.log(0.5))).sum().item()
    out = hinton_distillation(student, teacher, t([0]), temperature=temperature, alpha=0.7)
    assert out.loss.item() == pytest.approx(0.7 * 4 * kl + 0.3 * math.log(2))
    assert hinton_distillation(teacher, teacher, temperature=3.0).loss.item() == pytest.approx(0.0, abs=1e-7)


def test_hinton_t_squared_keeps_gradient_scale():
    torch.manual_seed(0)
    teacher = torch.randn(64, 10)
    norms = []
    for temperature in (4.0, 16.0):
        student = (0.1 * torch.randn(64, 10)).requires_grad_()
        hinton_distillation(student, teacher, temperature=temperature).loss.backward()
        norms.append(student.grad.norm().item())
    # d KL_T / d z_s ~ (z_s - z_t) / (C T^2) at high T: without the T^2 factor the gradient would shrink
    # 16x from T = 4 to T = 16; with it the two stay close
    assert norms[0] / norms[1] == pytest.approx(1.0, abs=0.1)


def test_token_kl_forward_and_reverse():
    student = torch.log(t([[[0.5, 0.5]]]))
    teacher = torch.log(t([[[0.9, 0.1]]]))
    mask = t([[1]])
    forward = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    reverse = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert token_kl(student, teacher, mask).loss.item() == pytest.approx(forward, rel=1e-5)
    assert token_kl(student, teacher, mask, direction="reverse").loss.item() == pytest.approx(
        reverse, rel=1e-5
    )
