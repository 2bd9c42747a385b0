"""Metrics on inputs with a known answer."""

from __future__ import annotations

import math

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.eval import (
    KStepCurve,
    LinearDynamicsBaseline,
    SuccessRate,
    average_ranks,
    copy_last_baseline,
    disagreement_error_correlation,
    effective_rank,
    kstep_errors,
    normalized_latent_error,
    pca_components,
    reliability_curve,
    wilson_interval,
)

torch.set_num_threads(1)


# ---------------------------------------------------------------------------- success rates


def test_wilson_interval_matches_published_values():
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson_interval(0, 10)  # zero successes: [0, z^2 / (n + z^2)]
    assert low == 0.0 and high == pytest.approx(1.96**2 / (10 + 1.96**2))
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(10 / (10 + 1.96**2))


@pytest.mark.parametrize("args", [(1, 0), (3, 2), (-1, 5)])
def test_wilson_interval_rejects_bad_counts(args):
    with pytest.raises(ForethoughtError):
        wilson_interval(*args)


def test_success_rate_from_counts_and_outcomes():
    r = SuccessRate.from_counts(5, 10)
    assert (r.successes, r.n, r.rate) == (5, 10, 0.5)
    assert (r.low, r.high) == wilson_interval(5, 10)
    assert SuccessRate.from_outcomes(torch.tensor([1, 0, 1, 0, 1, 0, 1, 0, 1, 0])) == r
    assert r.to_dict()["rate"] == 0.5


# ---------------------------------------------------------------------------- latent spread


def _latents_with_singular_values(s: list[float]) -> torch.Tensor:
    """(4, 3) latents whose centered singular values are exactly ``s`` (orthonormal, zero-sum
    columns scaled by s)."""
    u = torch.tensor(
        [[1, -1, 0, 0], [0, 0, 1, -1], [1, 1, -1, -1]], dtype=torch.float64
    ).T / torch.tensor([2**0.5, 2**0.5, 2.0], dtype=torch.float64)
    return (u * torch.tensor(s, dtype=torch.float64) + 7.0).float()  # + 7: centering matters


def test_effective_rank_known_values():
    assert effective_rank(_latents_with_singular_values([2, 2, 2])) == pytest.approx(3, abs=1e-5)
    assert effective_rank(_latents_with_singular_values([5, 0, 0])) == pytest.approx(1, abs=1e-5)
    p = torch.tensor([3.0, 1.0]) / 4
    expected = math.exp(-float((p * p.log()).sum()))
    got = effective_rank(_latents_with_singular_values([3, 1, 0]))
    assert got == pytest.approx(expected, abs=1e-5)
    assert effective_rank(torch.ones(5, 3)) == 0.0


def test_pca_components_for_variance():
    assert pca_components(_latents_with_singular_values([2, 2, 2])) == 3
    # variances 100, 0.5, 0.5: the first explains 99.01% -> 1 component at 0.99
    assert pca_components(_latents_with_singular_values([10, 0.5**0.5, 0.5**0.5])) == 1
    assert pca_components(_latents_with_singular_values([10, 2, 0])) == 2  # 100/104 < 0.99
    assert pca_components(_latents_with_singular_values([10, 2, 0]), variance=0.9) == 1
    assert pca_components(torch.zeros(4, 3)) == 0
    with pytest.raises(ForethoughtError):
        pca_components(torch.zeros(1, 3))


# ---------------------------------------------------------------------------- k-step curves


def test_kstep_errors_mean_std_sem_count():
    truth = torch.zeros(4, 2, 2)
    pred = torch.zeros(4, 2, 2)
    pred[:, 0, 0] = torch.tensor([1.0, 2.0, 3.0, 4.0])  # k=1 errors 1..4
    pred[:, 1, 1] = torch.tensor([-3.0, 3.0, 3.0, -3.0])  # k=2 errors all 3 (L2, sign-free)
    c = kstep_errors(pred, truth)
    torch.testing.assert_close(c.mean, torch.tensor([2.5, 3.0], dtype=torch.float64))
    std1 = torch.tensor([1.0, 2, 3, 4]).std().item()
    torch.testing.assert_close(c.std, torch.tensor([std1, 0.0], dtype=torch.float64))
    torch.testing.assert_close(c.sem, c.std / 2)
    assert c.count.tolist() == [4, 4] and c.horizon == 2


def test_kstep_errors_mask_ignores_rows_even_with_nan():
    truth = torch.zeros(3, 2, 1)
    pred = torch.tensor([[[1.0], [2.0]], [[3.0], [float("nan")]], [[5.0], [6.0]]])
    mask = torch.tensor([[True, True], [True, False], [False, False]])
    c = kstep_errors(pred, truth, mask)
    assert c.mean.tolist() == [2.0, 2.0] and c.count.tolist() == [2, 1]
    assert c.std.tolist()[1] == 0.0  # one sample: std 0, not NaN
    everything_masked = kstep_errors(pred, truth, torch.zeros(3, dtype=torch.bool))
    assert everything_masked.mean.tolist() == [0.0, 0.0]
    assert everything_masked.count.tolist() == [0, 0]
    with pytest.raises(ForethoughtError, match="NaN"):
        kstep_errors(pred, truth)
    with pytest.raises(ForethoughtError):
        kstep_errors(pred, truth[:, :1])


def test_curve_to_dict_is_json_ready():
    c = KStepCurve.from_samples(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    d = c.to_dict(digits=3)
    assert d["mean"] == [2.0, 3.0] and d["count"] == [2, 2]


def test_copy_last_baseline():
    first = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    truth = torch.tensor([[[3.0, 4.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 3.0]]])
    c = copy_last_baseline(first, truth)
    assert c.mean.tolist() == [2.5, 1.5]


# ---------------------------------------------------------------------------- linear baseline


def _linear_system(n: int = 200):
    g = torch.Generator().manual_seed(0)
    a_s = torch.tensor([[0.9, 0.1], [-0.2, 0.8]], dtype=torch.float64)
    a_a = torch.tensor([[0.5, 0.0], [0.0, -1.0], [0.3, 0.3]], dtype=torch.float64)
    bias = torch.tensor([0.1, -0.2], dtype=torch.float64)
    s = torch.randn(n, 2, generator=g, dtype=torch.float64)
    a = torch.randn(n, 3, generator=g, dtype=torch.float64)
    return (a_s, a_a, bias), s, a, s @ a_s + a @ a_a + bias


def test_linear_dynamics_recovers_an_exact_linear_system():
    (a_s, a_a, bias), s, a, s_next = _linear_system()
    model = LinearDynamicsBaseline.fit(s, a, s_next, ridge=1e-10)
    torch.testing.assert_close(model.state_weight, a_s, atol=1e-6, rtol=0)
    torch.testing.assert_close(model.action_weight, a_a, atol=1e-6, rtol=0)
    torch.testing.assert_close(model.bias, bias, atol=1e-6, rtol=0)
    # rollout: out[:, k] follows actions[:, : k + 1]
    actions = torch.randn(4, 5, 3, generator=torch.Generator().manual_seed(1))
    first = torch.randn(4, 2, generator=torch.Generator().manual_seed(2))
    out = model.rollout(first, actions)
    assert out.shape == (4, 5, 2) and out.dtype == torch.float32
    state = first.double()
    for k in range(5):
        state = state @ a_s + actions[:, k].double() @ a_a + bias
        torch.testing.assert_close(out[:, k], state.float(), atol=1e-5, rtol=0)


def test_linear_dynamics_from_windows_skips_episode_starts():
    # 1-D state s_{t+1} = s_t + a_{t+1}; a fake boundary row would break the fit if used.
    actions = torch.tensor([[[0.0], [1.0], [2.0], [0.5]], [[0.0], [-1.0], [3.0], [1.0]]])
    states = actions.cumsum(1)
    states[1, 2:] += 100.0  # row 2 of window 1 "starts a new episode"
    is_first = torch.zeros(2, 4, dtype=torch.bool)
    is_first[:, 0] = True
    is_first[1, 2] = True
    model = LinearDynamicsBaseline.fit_windows(states, actions, is_first, ridge=1e-10)
    torch.testing.assert_close(
        model.rollout(torch.zeros(1, 1), torch.ones(1, 3, 1)),
        torch.tensor([[[1.0], [2.0], [3.0]]]),
        atol=1e-5,
        rtol=0,
    )
    with pytest.raises(ForethoughtError, match="one-hot"):
        LinearDynamicsBaseline.fit(states[0], torch.zeros(4, 1, dtype=torch.int64), states[0])


# ---------------------------------------------------------------------------- latent error


def test_normalized_latent_error_zero_perfect_one_for_the_mean():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(50, 3, 4, generator=g) * torch.tensor([1.0, 10.0, 0.1, 3.0])
    assert normalized_latent_error(target, target).mean.tolist() == [0.0, 0.0, 0.0]
    mean_pred = target.reshape(-1, 4).mean(0).expand_as(target)
    c = normalized_latent_error(mean_pred, target)
    assert float(c.mean.mean()) == pytest.approx(1.0, abs=1e-6)  # equal counts per k
    # a known offset: ||d||^2 / total variance
    shift = torch.tensor([1.0, 0.0, 0.0, 0.0])
    c = normalized_latent_error(target + shift, target, total_variance=4.0)
    torch.testing.assert_close(c.mean, torch.full((3,), 0.25, dtype=torch.float64))


def test_normalized_latent_error_rejects_collapsed_targets():
    with pytest.raises(ForethoughtError, match="collapsed"):
        normalized_latent_error(torch.zeros(5, 2, 3), torch.ones(5, 2, 3))


# ---------------------------------------------------------------------------- calibration


def test_average_ranks_with_ties():
    r = average_ranks(torch.tensor([10.0, 20.0, 10.0, 30.0]))
    assert r.tolist() == [1.5, 3.0, 1.5, 4.0]


def test_correlation_pearson_and_spearman():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    c = disagreement_error_correlation(x, x.exp())  # monotone but not linear
    assert c.spearman == pytest.approx(1.0) and 0.8 < c.pearson < 1.0 and c.n == 5
    c = disagreement_error_correlation(x, -2 * x + 1)
    assert c.pearson == pytest.approx(-1.0) and c.spearman == pytest.approx(-1.0)
    # hand-computed: x = (1, 2, 3), y = (1, 3, 2): pearson = 0.5
    c = disagreement_error_correlation(torch.tensor([1.0, 2, 3]), torch.tensor([1.0, 3, 2]))
    assert c.pearson == pytest.approx(0.5) and c.spearman == pytest.approx(0.5)
    c = disagreement_error_correlation(torch.ones(4), x[:4])  # constant: 0, not NaN
    assert (c.pearson, c.spearman) == (0.0, 0.0)
    with pytest.raises(ForethoughtError):
        disagreement_error_correlation(torch.ones(1), torch.ones(1))


def test_reliability_curve_bins_by_quantile():
    d = torch.arange(100.0)
    curve = reliability_curve(d, 2 * d, bins=10)
    expected = torch.arange(10, dtype=torch.float64) * 10 + 4.5
    torch.testing.assert_close(curve.mean_disagreement, expected)
    torch.testing.assert_close(curve.mean_error, 2 * expected)
    assert curve.count.tolist() == [10] * 10
    assert curve.to_dict()["count"] == [10] * 10


def test_reliability_curve_keeps_ties_together_and_drops_empty_bins():
    d = torch.tensor([0.0] * 8 + [1.0, 2.0])
    e = torch.tensor([1.0] * 8 + [5.0, 7.0])
    curve = reliability_curve(d, e, bins=5)
    assert curve.count.sum() == 10 and curve.count.tolist()[0] == 8
    assert curve.mean_error.tolist()[0] == 1.0
