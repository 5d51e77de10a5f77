"""Property tests of the samplers (genpo/samplers), against docs/genpopp.md sections 1-3 and 5.

Velocity fields used here:
  * `mlp_velocity`: a tiny random tanh MLP v(x, t), rebuilt from a seed per example, with the SAME
    weights in float64 and float32 (the float32 weights are the rounded float64 ones). Its Lipschitz
    constant is of order 1, like a trained, normalised policy network.
  * `gmm_velocity`: the exact rectified-flow velocity E[a - eps | x_t] toward a 2-D Gaussian mixture
    (4 modes at radius 1.5, std 0.3): a smooth field whose ODE solution is known to high accuracy
    with fine RK4, so "distance to the true flow" is meaningful.

Float32 round-trip bound (derived from measurements, see docs/numerics.md): per latent slot,

    max |z - F^-1(F(z))| <= K * eps32 * sigma^-(two-step updates) * max(1, max |pair|)   [slot 0, and
                                                                                        slot 1 of A]
    max |xi - xi_rec|   <= K * eps32 * sigma^-(two-step updates) * max(1, max |pair|) / min(tau)
                                                                                       [slot 1 of B]

with K = 8. Over ~2000 random configurations (d 1-16, N 1-20, sigma 0.5-1 within the guard, tau
1e-3-1, both inits, both coefficients, uniform and random grids) the worst measured K was 3.5;
K = 8 leaves a margin of ~2.3. The 1/tau factor is real, not slack: x_1 = x_0 + h v + tau xi is
stored as a float, so the bits of tau*xi below eps32 * |x_1| are gone, and xi = (...)/tau magnifies
what is left. The same argument in float64 (eps64 = 2.2e-16) gives up to ~2e-10 in the xi slot at
tau = 1e-3 and gain 100 (measured); the float64 test therefore checks 1e-10 in state units
(x_0 and tau * xi), and in raw latent units wherever tau >= 1e-2.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genpo.samplers import EulerSampler, ReversibleSampler, standard_normal_log_prob, time_grid

F32_EPS = torch.finfo(torch.float32).eps
ROUNDTRIP_K = 8.0  # worst measured 3.5; see module docstring
DEFAULT_GAIN = 100.0


# ---------------------------------------------------------------------------------------------
# velocity fields
# ---------------------------------------------------------------------------------------------
def mlp_velocity(seed: int, dim: int, hidden: int = 16):
    """v(x, t) = W2 tanh(W1 [x, t] + b1) + b2, identical weights for float32 and float64 inputs."""
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(dim + 1, hidden, generator=g, dtype=torch.float64) / math.sqrt(dim + 1)
    b1 = 0.1 * torch.randn(hidden, generator=g, dtype=torch.float64)
    w2 = torch.randn(hidden, dim, generator=g, dtype=torch.float64) / math.sqrt(hidden)
    b2 = 0.1 * torch.randn(dim, generator=g, dtype=torch.float64)
    params = {dt: [p.to(dt) for p in (w1, b1, w2, b2)] for dt in (torch.float32, torch.float64)}

    def v(x, t):
        w1, b1, w2, b2 = params[x.dtype]
        return torch.tanh(torch.cat([x, t[:, None]], -1) @ w1 + b1) @ w2 + b2

    return v


GMM_STD = 0.3
_ANGLES = torch.arange(4, dtype=torch.float64) * math.pi / 2 + math.pi / 4
GMM_MEANS = 1.5 * torch.stack([_ANGLES.cos(), _ANGLES.sin()], -1)


def gmm_velocity(x, t):
    """Exact rectified-flow velocity E[a - eps | x_t = x] for a ~ equal-weight GMM, eps ~ N(0, I).

    Given the mode k: x_t ~ N(t mu_k, V), V = t^2 s^2 + (1 - t)^2, and
    E[a - eps | x_t, k] = mu_k + (t s^2 - (1 - t)) / V * (x_t - t mu_k).
    """
    mu = GMM_MEANS.to(x.dtype)
    tt = t[:, None]
    var = tt**2 * GMM_STD**2 + (1 - tt) ** 2
    diff = x[:, None, :] - tt[:, :, None] * mu[None]
    w = torch.softmax(-(diff**2).sum(-1) / (2 * var), -1)
    cond = mu[None] + ((tt * GMM_STD**2 - (1 - tt)) / var)[:, :, None] * diff
    return (w[:, :, None] * cond).sum(1)


def rk4_flow(v, x, steps: int = 400):
    """Reference ODE solution x(1) from x(0) = x (float64, classical RK4 on a uniform grid)."""
    h = 1.0 / steps
    for i in range(steps):
        t = torch.full((x.shape[0],), i * h, dtype=x.dtype)
        k1 = v(x, t)
        k2 = v(x + h / 2 * k1, t + h / 2)
        k3 = v(x + h / 2 * k2, t + h / 2)
        k4 = v(x + h * k3, t + h)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """Tiny tensors: one intra-op thread is several times faster than two on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def gmm_problem():
    """1000 latents (float64), their x_0 and the RK4 reference x(1) (400 steps; vs 2000 steps: 6e-9)."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1000, 2, 2, generator=g, dtype=torch.float64)
    x0 = z[:, 0]
    return z, x0, rk4_flow(gmm_velocity, x0, steps=400)


def mean_dist(a, b) -> float:
    return (a - b).norm(dim=-1).mean().item()


TINY_LOG_TAU = torch.tensor(math.log(1e-8), dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# hypothesis strategies
# ---------------------------------------------------------------------------------------------
def two_step_count(num_steps: int, init: str) -> int:
    return num_steps - 1 if init == "pretrained" else num_steps


def allowed_sigma_min(num_steps: int, init: str, max_gain: float = DEFAULT_GAIN) -> float:
    """Smallest sigma in [0.5, 1] that the default guard accepts (with a hair of float slack)."""
    n = two_step_count(num_steps, init)
    lo = math.exp(-math.log(max_gain) / n) if n > 0 else 0.0
    return min(1.0, max(0.5, lo * (1 + 1e-9)))


@st.composite
def grids(draw, num_steps: int):
    """None (uniform) or a random strictly increasing grid 0 = t_0 < ... < t_N = 1."""
    if draw(st.booleans()):
        return None
    widths = draw(st.lists(st.floats(0.1, 1.0), min_size=num_steps, max_size=num_steps))
    total = sum(widths)
    grid, acc = [0.0], 0.0
    for w in widths[:-1]:
        acc += w
        grid.append(acc / total)
    grid.append(1.0)
    return grid


@st.composite
def configs(draw, max_dim: int = 16, max_steps: int = 20, init=None, sigma_floor: float | None = None):
    dim = draw(st.integers(1, max_dim))
    num_steps = draw(st.integers(1, max_steps))
    init = init or draw(st.sampled_from(["pretrained", "independent"]))
    coefficient = draw(st.sampled_from(["consistent", "dt"]))
    lo = allowed_sigma_min(num_steps, init) if sigma_floor is None else sigma_floor
    sigma = draw(st.floats(lo, 1.0))
    grid = draw(grids(num_steps))
    log_tau = draw(st.lists(st.floats(math.log(1e-3), 0.0), min_size=dim, max_size=dim))
    seed = draw(st.integers(0, 2**31 - 1))
    batch = draw(st.integers(1, 8))
    return dict(dim=dim, num_steps=num_steps, init=init, coefficient=coefficient, sigma=sigma, grid=grid,
                log_tau=log_tau, seed=seed, batch=batch)


def build(cfg, dtype=torch.float64, max_inverse_gain=DEFAULT_GAIN):
    sampler = ReversibleSampler(cfg["num_steps"], cfg["sigma"], cfg["init"], cfg["coefficient"], cfg["grid"],
                                max_inverse_gain=max_inverse_gain)
    velocity = mlp_velocity(cfg["seed"], cfg["dim"])
    g = torch.Generator().manual_seed(cfg["seed"])
    z = torch.randn(cfg["batch"], 2, cfg["dim"], generator=g, dtype=torch.float64).to(dtype)
    log_tau = torch.tensor(cfg["log_tau"], dtype=dtype)
    return sampler, velocity, z, log_tau


def tau_min(cfg) -> float:
    return math.exp(min(cfg["log_tau"])) if cfg["init"] == "pretrained" else 1.0


# ---------------------------------------------------------------------------------------------
# §1/§2: exact inverse
# ---------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(cfg=configs())
def test_roundtrip_float64(cfg):
    sampler, velocity, z, log_tau = build(cfg, torch.float64)
    z_back = sampler.inverse(velocity, sampler.forward(velocity, z, log_tau), log_tau)
    err = (z_back - z).abs()
    # state units: x_0 (or x_{-1}) and the history perturbation tau * xi (or x_0) -> 1e-10
    scale = log_tau.exp() if cfg["init"] == "pretrained" else torch.ones_like(log_tau)
    assert err[:, 0].max() < 1e-10
    assert (err[:, 1] * scale).max() < 1e-10
    if tau_min(cfg) >= 1e-2:  # raw latent units (the xi slot carries 1/tau, see module docstring)
        assert err.max() < 1e-10


@settings(max_examples=80, deadline=None)
@given(cfg=configs())
def test_roundtrip_float32_within_documented_bound(cfg):
    sampler, velocity, z, log_tau = build(cfg, torch.float32)
    pair = sampler.forward(velocity, z, log_tau)
    z_back = sampler.inverse(velocity, pair, log_tau)
    assert z_back.dtype == torch.float32
    bound = ROUNDTRIP_K * F32_EPS * sampler.inverse_gain * max(1.0, pair.abs().max().item())
    assert (z_back[:, 0] - z[:, 0]).abs().max().item() <= bound
    assert (z_back[:, 1] - z[:, 1]).abs().max().item() <= bound / tau_min(cfg)


# ---------------------------------------------------------------------------------------------
# §2/§3: exact log-density of the pair
# ---------------------------------------------------------------------------------------------
def closed_form_log_det(cfg) -> float:
    n, d, s = cfg["num_steps"], cfg["dim"], cfg["sigma"]
    if cfg["init"] == "independent":
        return n * d * math.log(s)
    return sum(cfg["log_tau"]) + (n - 1) * d * math.log(s)


@settings(max_examples=60, deadline=None)
@given(cfg=configs())
def test_log_prob_of_sampled_pair_float64(cfg):
    sampler, velocity, z, log_tau = build(cfg, torch.float64)
    out = sampler.sample(velocity, z, log_tau)
    log_det = closed_form_log_det(cfg)
    assert float(sampler.log_det(cfg["dim"], log_tau)) == pytest.approx(log_det, rel=1e-12, abs=1e-12)
    expected = standard_normal_log_prob(z) - log_det
    torch.testing.assert_close(out.log_prob, expected, rtol=0, atol=1e-9)
    torch.testing.assert_close(sampler.log_prob(velocity, out.stored, log_tau), out.log_prob, rtol=0, atol=1e-8)
    torch.testing.assert_close(out.action, out.stored[:, 1], rtol=0, atol=0)
    assert out.latent is z and out.stored.shape == z.shape == sampler.latent_shape(cfg["batch"], cfg["dim"])


@settings(max_examples=60, deadline=None)
@given(cfg=configs())
def test_log_prob_of_sampled_pair_float32(cfg):
    """float32: sample().log_prob (from z) vs log_prob(stored) (by inversion) within the round-trip bound."""
    sampler, velocity, z, log_tau = build(cfg, torch.float32)
    out = sampler.sample(velocity, z, log_tau)
    by_inversion = sampler.log_prob(velocity, out.stored, log_tau)
    assert by_inversion.dtype == torch.float32
    per_entry = ROUNDTRIP_K * F32_EPS * sampler.inverse_gain * max(1.0, out.stored.abs().max().item())
    per_entry = torch.tensor([per_entry, per_entry / tau_min(cfg)])[None, :, None]
    # |d log N(z)| <= sum |z| dz + dz^2 / 2, plus float32 summation of ~|log p|
    bound = (z.abs() * per_entry + per_entry**2 / 2).sum((1, 2)) + 8 * F32_EPS * (1 + out.log_prob.abs())
    assert torch.all((by_inversion - out.log_prob).abs() <= bound)


@settings(max_examples=40, deadline=None)
@given(cfg=configs(max_dim=3, max_steps=6, sigma_floor=0.5), data=st.data())
def test_log_det_equals_autograd_jacobian(cfg, data):
    """Closed-form log|det dF/dz| == slogdet of the autograd Jacobian of z -> pair (single sample)."""
    sampler, velocity, _, log_tau = build(cfg, torch.float64, max_inverse_gain=math.inf)
    d = cfg["dim"]
    z = torch.randn(2 * d, generator=torch.Generator().manual_seed(cfg["seed"]), dtype=torch.float64)

    def flat_map(flat_z):
        return sampler.forward(velocity, flat_z.reshape(1, 2, d), log_tau).reshape(-1)

    jac = torch.autograd.functional.jacobian(flat_map, z)
    sign, logabsdet = torch.linalg.slogdet(jac)
    assert sign != 0
    assert logabsdet.item() == pytest.approx(sampler.log_det(d, log_tau).item(), abs=1e-8)
    assert logabsdet.item() == pytest.approx(closed_form_log_det(cfg), abs=1e-8)


def test_log_det_jacobian_explicit_cases():
    """Deterministic coverage of every (init, coefficient, grid) combination, independent of hypothesis."""
    d, n, sigma = 2, 4, 0.7
    velocity = mlp_velocity(3, d)
    log_tau = torch.tensor([math.log(0.05), math.log(0.3)], dtype=torch.float64)
    z = torch.randn(2 * d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for init in ("pretrained", "independent"):
        for coefficient in ("consistent", "dt"):
            for grid in (None, [0.0, 0.1, 0.45, 0.6, 1.0]):
                sampler = ReversibleSampler(n, sigma, init, coefficient, grid)
                jac = torch.autograd.functional.jacobian(
                    lambda q: sampler.forward(velocity, q.reshape(1, 2, d), log_tau).reshape(-1), z)
                expected = (n - 1) * d * math.log(sigma) + log_tau.sum().item() if init == "pretrained" \
                    else n * d * math.log(sigma)
                assert torch.linalg.slogdet(jac)[1].item() == pytest.approx(expected, abs=1e-10)
                assert sampler.log_det(d, log_tau).item() == pytest.approx(expected, abs=1e-12)


def test_scalar_log_tau_broadcasts_like_a_vector():
    sampler = ReversibleSampler(5, 0.9)
    velocity = mlp_velocity(0, 3)
    z = torch.randn(4, 2, 3, dtype=torch.float64)
    scalar, vector = torch.tensor([math.log(0.1)], dtype=torch.float64), torch.full((3,), math.log(0.1),
                                                                                       dtype=torch.float64)
    a, b = sampler.sample(velocity, z, scalar), sampler.sample(velocity, z, vector)
    torch.testing.assert_close(a.stored, b.stored, rtol=0, atol=0)
    torch.testing.assert_close(a.log_prob, b.log_prob, rtol=0, atol=1e-12)
    torch.testing.assert_close(sampler.log_prob(velocity, a.stored, scalar), b.log_prob, rtol=0, atol=1e-10)


def test_independent_init_ignores_log_tau():
    sampler = ReversibleSampler(5, 0.9, init="independent")
    velocity = mlp_velocity(0, 3)
    z = torch.randn(4, 2, 3, dtype=torch.float64)
    out = sampler.sample(velocity, z)
    torch.testing.assert_close(out.stored, sampler.sample(velocity, z, torch.zeros(3)).stored)
    torch.testing.assert_close(sampler.log_prob(velocity, out.stored), out.log_prob, rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# §3: tau -> 0 against Euler and the true ODE solution (GMM rectified flow)
# ---------------------------------------------------------------------------------------------
def reversible_action(gmm_problem, num_steps, sigma, init="pretrained", coefficient="consistent", grid=None):
    z, _, _ = gmm_problem
    sampler = ReversibleSampler(num_steps, sigma, init, coefficient, grid, max_inverse_gain=math.inf)
    if init == "independent":
        z = z.flip(1)  # A: (x_{-1}, x_0) = z, so put the reference x_0 in the second slot
    return sampler.forward(gmm_velocity, z, TINY_LOG_TAU)[:, 1]


def test_pretrained_tau0_converges_to_ode_like_euler(gmm_problem):
    """Init B, tau -> 0, sigma < 1, consistent: a different first-order integrator than Euler, whose
    error to the exact flow is small, of Euler's order (measured: 0.2-0.9x Euler's) and shrinks ~1/N.

    Measured mean |x_N - x(1)| (this field, 1000 samples, tau = 1e-8):
        N        5      10     20     40     80
        Euler    0.202  0.103  0.052  0.026  0.013
        B s0.5   0.084  0.038  0.019  0.009  0.005
        B s0.8   0.088  0.017  0.007  0.003  0.002
        B s0.9   0.099  0.011  0.004  0.002  0.001
        |B s0.9 - Euler|: 0.164  0.096  0.048  0.025  0.012  (not Euler, both converge)
    """
    _, x0, ref = gmm_problem
    for sigma in (0.5, 0.8, 0.9):
        errs, euler_errs = [], []
        for n in (5, 10, 20, 40):
            euler = EulerSampler(n).sample(gmm_velocity, x0).action
            rev = reversible_action(gmm_problem, n, sigma)
            errs.append(mean_dist(rev, ref))
            euler_errs.append(mean_dist(euler, ref))
            assert errs[-1] <= 1.5 * euler_errs[-1]  # same order as Euler (measured <= 0.6x)
            assert (rev - euler).abs().max() > 1e-4  # ... but NOT the Euler action (N > 1, sigma < 1)
        assert all(b < a for a, b in zip(errs, errs[1:]))  # converges as N grows
        assert errs[-1] < errs[0] / 4  # at least first order over 5 -> 40 (8x more steps)
        assert euler_errs[-1] < euler_errs[0] / 6
        assert errs[1] < 0.05  # N = 10: close to the true flow (Euler: 0.10)


def test_pretrained_tau0_nonuniform_grid_converges(gmm_problem):
    _, _, ref = gmm_problem
    errs = []
    for n in (10, 40):
        t = torch.linspace(0, 1, n + 1, dtype=torch.float64)
        grid = (t + 0.3 * torch.sin(math.pi * t) / math.pi).tolist()  # strictly increasing, non-uniform
        grid[0], grid[-1] = 0.0, 1.0
        errs.append(mean_dist(reversible_action(gmm_problem, n, 0.9, grid=grid), ref))
    assert errs[0] < 0.05 and errs[1] < errs[0] / 3


def test_pretrained_single_step_is_euler(gmm_problem):
    """N = 1: x_1 = x_0 + h_0 v(x_0) + tau xi, so tau -> 0 gives exactly the Euler action."""
    _, x0, _ = gmm_problem
    euler = EulerSampler(1).sample(gmm_velocity, x0).action
    for sigma in (0.5, 0.9, 1.0):
        torch.testing.assert_close(reversible_action(gmm_problem, 1, sigma), euler, rtol=0, atol=1e-7)


def test_pretrained_sigma_to_zero_is_euler(gmm_problem):
    """sigma -> 0 (guard lifted): c_i -> h_i and the history term vanishes, leaving Euler exactly."""
    _, x0, _ = gmm_problem
    for coefficient in ("consistent", "dt"):
        euler = EulerSampler(10).sample(gmm_velocity, x0).action
        rev = reversible_action(gmm_problem, 10, 1e-9, coefficient=coefficient)
        torch.testing.assert_close(rev, euler, rtol=0, atol=1e-6)


def test_sigma_one_uniform_grid_is_second_order(gmm_problem):
    """sigma = 1 on a uniform grid is leapfrog (x_{i+1} = x_{i-1} + 2h v(x_i)) with an Euler start:
    second order, so it beats Euler by far and the error drops ~4x per doubling of N.
    Measured: N 10/20/40/80 -> 0.0155 / 0.0028 / 0.0007 / 0.0002 (Euler 0.10 / 0.052 / 0.026 / 0.013).
    (On a non-uniform grid sigma = 1 is only first order: second order needs sigma_i = (h_i/h_{i-1})^2.)
    """
    _, x0, ref = gmm_problem
    errs = {n: mean_dist(reversible_action(gmm_problem, n, 1.0), ref) for n in (20, 40, 80)}
    assert errs[40] < errs[20] / 3 and errs[80] < errs[40] / 3
    assert errs[40] < mean_dist(EulerSampler(40).sample(gmm_velocity, x0).action, ref) / 10


def test_dt_coefficient_does_not_converge_to_the_flow(gmm_problem):
    """c_i = h_i (GenPO dev-code variant) is inconsistent: x_{i+1} - x_i = sigma (x_{i-1} - x_i) + h v
    integrates dx/dt ~ v / (1 + sigma), so more steps do not approach the ODE solution.
    Measured mean distance at N = 10 / 40 / 80: 0.25 / 0.24 / 0.24 (sigma 0.8), 0.26 / 0.27 / 0.27 (sigma 1)."""
    _, _, ref = gmm_problem
    for sigma in (0.8, 1.0):
        e40 = mean_dist(reversible_action(gmm_problem, 40, sigma, coefficient="dt"), ref)
        e80 = mean_dist(reversible_action(gmm_problem, 80, sigma, coefficient="dt"), ref)
        assert e40 > 0.15 and e80 > 0.8 * e40


def test_independent_init_stays_far_from_the_flow(gmm_problem):
    """Init A feeds an independent x_{-1} into the first two-step update: the action is far from the
    ODE solution from x_0, whatever N. Measured mean distance at N = 10: 0.68 / 0.82 / 0.79 / 0.71
    (sigma 0.5 / 0.8 / 0.9 / 0.95) vs 0.10 for Euler; at N = 40 still 0.64 / 0.88 / 0.93 / 0.84.
    (genpopp.md quotes 0.49-2.3 vs 0.05 on its own toy 2-D flow.)"""
    _, x0, ref = gmm_problem
    euler = mean_dist(EulerSampler(10).sample(gmm_velocity, x0).action, ref)
    for n in (10, 40):
        for sigma in (0.5, 0.8, 0.9, 0.95):
            dist = mean_dist(reversible_action(gmm_problem, n, sigma, init="independent"), ref)
            assert dist > 0.4 and dist > 4 * euler


# ---------------------------------------------------------------------------------------------
# §5: the inverse-gain guard
# ---------------------------------------------------------------------------------------------
def suggested_sigma(message: str) -> float:
    match = re.search(r"sigma >= ([0-9]*\.[0-9]+)", message)
    assert match, message
    return float(match.group(1))


@pytest.mark.parametrize("init", ["pretrained", "independent"])
def test_refusal_names_a_sigma_that_works(init):
    with pytest.raises(ValueError, match="sigma") as info:
        ReversibleSampler(20, 0.5, init)
    sigma = suggested_sigma(str(info.value))
    assert 0.5 < sigma < 1.0
    sampler = ReversibleSampler(20, sigma, init)  # the suggestion passes the same guard
    assert sampler.inverse_gain <= DEFAULT_GAIN
    # and is tight: one printed digit lower is refused
    with pytest.raises(ValueError):
        ReversibleSampler(20, sigma - 0.002, init)


@settings(max_examples=100, deadline=None)
@given(num_steps=st.integers(2, 60), init=st.sampled_from(["pretrained", "independent"]),
       max_gain=st.floats(1.5, 1e4), below=st.floats(1e-4, 0.5))
def test_refusal_suggestion_always_passes(num_steps, init, max_gain, below):
    n = two_step_count(num_steps, init)
    exact_min = math.exp(-math.log(max_gain) / n)
    sigma = exact_min * (1 - below)
    if sigma ** -n <= max_gain:  # float edge: not actually refused
        return
    with pytest.raises(ValueError) as info:
        ReversibleSampler(num_steps, sigma, init, max_inverse_gain=max_gain)
    suggestion = suggested_sigma(str(info.value))
    ReversibleSampler(num_steps, suggestion, init, max_inverse_gain=max_gain)
    assert suggestion - exact_min < 2e-3


def test_guard_can_be_lifted_and_default_sigma_passes():
    assert ReversibleSampler(20, 0.5, max_inverse_gain=math.inf).inverse_gain == 2.0**19
    assert ReversibleSampler(20, 0.5, init="independent", max_inverse_gain=math.inf).inverse_gain == 2.0**20
    for n in (1, 4, 10, 20, 40):  # the project default sigma = 0.9 passes up to N = 44 (0.9^-43 < 100)
        ReversibleSampler(n, 0.9)
        ReversibleSampler(n, 0.9, init="independent")
    assert ReversibleSampler(1, 0.5).inverse_gain == 1.0  # N = 1 with B: no two-step update at all


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("num_steps, grid", [
    (3, [0.0, 0.5, 0.4, 1.0]),  # not increasing
    (3, [0.0, 0.5, 0.5, 1.0]),  # not strictly increasing
    (3, [1.0, 0.6, 0.3, 0.0]),  # decreasing
    (3, [0.0, 0.5, 1.0]),  # too short
    (3, [0.0, 0.2, 0.4, 0.6, 1.0]),  # too long
    (2, [-0.1, 0.5, 1.0]),  # outside [0, 1]
    (2, [0.0, 0.5, 1.1]),  # outside [0, 1]
])
def test_bad_grid_raises(num_steps, grid):
    with pytest.raises(ValueError):
        ReversibleSampler(num_steps, 1.0, grid=grid)
    with pytest.raises(ValueError):
        EulerSampler(num_steps, grid=grid)
    with pytest.raises(ValueError):
        time_grid(num_steps, grid)


@pytest.mark.parametrize("kwargs", [
    dict(num_steps=0), dict(num_steps=-1), dict(sigma=0.0), dict(sigma=-0.5), dict(sigma=1.01),
    dict(init="scratch"), dict(coefficient="midpoint"),
])
def test_bad_constructor_arguments_raise(kwargs):
    args = dict(num_steps=4, sigma=0.9) | kwargs
    with pytest.raises(ValueError):
        ReversibleSampler(**args)


def test_pretrained_without_log_tau_raises():
    sampler = ReversibleSampler(4, 0.9, init="pretrained")
    velocity = mlp_velocity(0, 2)
    z = torch.randn(3, 2, 2)
    pair = sampler.forward(velocity, z, torch.zeros(2))
    for call in (lambda: sampler.forward(velocity, z), lambda: sampler.sample(velocity, z),
                 lambda: sampler.inverse(velocity, pair), lambda: sampler.log_prob(velocity, pair),
                 lambda: sampler.log_det(2), lambda: sampler.log_prob_of_latent(z)):
        with pytest.raises(ValueError, match="log_tau"):
            call()


# ---------------------------------------------------------------------------------------------
# batch independence
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("init", ["pretrained", "independent"])
def test_batch_equals_one_at_a_time(dtype, atol, init):
    d, n, batch = 5, 8, 7
    sampler = ReversibleSampler(n, 0.85, init, grid=[0, 0.05, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0])
    velocity = mlp_velocity(11, d)
    z = torch.randn(batch, 2, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(dtype)
    log_tau = torch.linspace(math.log(0.02), math.log(0.2), d, dtype=dtype)
    out = sampler.sample(velocity, z, log_tau)
    by_inversion = sampler.log_prob(velocity, out.stored, log_tau)
    latents = sampler.inverse(velocity, out.stored, log_tau)
    # the inverse carries the 1/tau and sigma^-steps factors of the round-trip bound
    inv_atol = atol * sampler.inverse_gain / 0.02
    for b in range(batch):
        one = sampler.sample(velocity, z[b:b + 1], log_tau)
        torch.testing.assert_close(one.stored, out.stored[b:b + 1], rtol=0, atol=atol)
        torch.testing.assert_close(one.log_prob, out.log_prob[b:b + 1], rtol=0, atol=atol)
        torch.testing.assert_close(sampler.inverse(velocity, out.stored[b:b + 1], log_tau), latents[b:b + 1],
                                   rtol=0, atol=inv_atol)
        torch.testing.assert_close(sampler.log_prob(velocity, out.stored[b:b + 1], log_tau),
                                   by_inversion[b:b + 1], rtol=0, atol=inv_atol * 10)
    # perturbing one element leaves every other element untouched
    z2 = z.clone()
    z2[0] += 1.0
    out2 = sampler.sample(velocity, z2, log_tau)
    torch.testing.assert_close(out2.stored[1:], out.stored[1:], rtol=0, atol=atol)
    assert (out2.stored[0] - out.stored[0]).abs().max() > 1e-3


def test_euler_batch_equals_one_at_a_time():
    velocity = mlp_velocity(5, 4)
    sampler = EulerSampler(6)
    x0 = torch.randn(5, 4, dtype=torch.float64)
    out = sampler.sample(velocity, x0)
    assert out.log_prob is None
    for b in range(5):
        torch.testing.assert_close(sampler.sample(velocity, x0[b:b + 1]).action, out.action[b:b + 1],
                                   rtol=0, atol=1e-12)


def test_log_prob_gradient_wrt_log_tau_matches_finite_differences():
    """A learnable log tau (genpopp §4) gets the right gradient through the inversion and log_det."""
    sampler = ReversibleSampler(6, 0.9, grid=[0, 0.1, 0.3, 0.5, 0.7, 0.85, 1.0])
    velocity = mlp_velocity(4, 3)
    z = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    base = torch.tensor([math.log(0.05), math.log(0.2), math.log(0.5)], dtype=torch.float64)
    pair = sampler.forward(velocity, z, base)  # a stored pair; log tau then moves
    log_tau = base.clone().requires_grad_(True)
    sampler.log_prob(velocity, pair, log_tau).sum().backward()
    step = 1e-6
    for k in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[k] = step
        fd = (sampler.log_prob(velocity, pair, base + e).sum() - sampler.log_prob(velocity, pair, base - e).sum())
        assert log_tau.grad[k].item() == pytest.approx(fd.item() / (2 * step), rel=1e-5, abs=1e-6)


def test_base_std_keeps_the_density_exact():
    """base_std s < 1: x_0 ~ N(0, s^2); the pair's log-prob is log N(x_0; 0, s^2) + log N(xi; 0, 1) - log|det|."""
    torch.manual_seed(0)
    d, s = 3, 0.25
    weight = torch.randn(d, d, dtype=torch.float64) * 0.3
    velocity = lambda x, t: torch.tanh(x @ weight) + t[:, None]
    sampler = ReversibleSampler(num_steps=5, sigma=0.8, init="pretrained", base_std=s)
    log_tau = torch.full((d,), math.log(0.1), dtype=torch.float64)
    latent = torch.randn(64, 2, d, dtype=torch.float64) * torch.as_tensor(sampler.latent_scale())
    out = sampler.sample(velocity, latent, log_tau)
    x0, xi = latent[:, 0], latent[:, 1]
    def normal(std):  # in float64 (python floats would make float32 distribution parameters)
        return torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(std, dtype=torch.float64))

    expected = normal(s).log_prob(x0).sum(-1) + normal(1.0).log_prob(xi).sum(-1) - sampler.log_det(d, log_tau)
    torch.testing.assert_close(out.log_prob, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(sampler.log_prob(velocity, out.stored, log_tau), expected, rtol=0, atol=1e-8)
    assert ReversibleSampler(num_steps=5, sigma=0.8).latent_scale() == 1.0
