"""Baselines in the one PPO harness: ReinFlow, DPPO (DDPM/DDIM), FPO++, Gaussian PPO.

Per algorithm: two iterations on Hopper with finite losses and ratio == 1 at theta_old on the first
minibatch; log-probs against independent computations (torch.distributions on the stored chain);
DDPM/DDIM schedule math against diffusers; the pretraining objectives; the surrogate hooks.
"""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal

from finetune.algos.dppo import DPPO, DPPOConfig, clip_ranges
from finetune.algos.fpo import FPO, FPOConfig
from finetune.algos.gaussian import GaussianPPO, GaussianPPOConfig
from finetune.algos.reinflow import ReinFlow, ReinFlowConfig, max_std_schedule
from finetune.config import FinetuneConfig
from finetune.runner import FinetuneRun
from genpo.checkpoint import load_policy, save_policy
from genpo.config import load_config
from genpo.metrics import MetricsLogger
from genpo.policies.diffusion import DiffusionConfig, DiffusionPolicy, DiffusionPolicyConfig
from genpo.policies.flow import FlowPolicy, FlowPolicyConfig, SamplerConfig
from genpo.policies.gaussian import GaussianPolicy, GaussianPolicyConfig
from genpo.samplers.ddpm import DenoisingSampler

TINY = ["task.env.num_envs=2", "task.env.max_episode_steps=40", "ppo.steps_per_iter=8", "ppo.minibatch_size=8",
        "ppo.epochs=2", "ppo.critic_warmup_iters=0", "ppo.critic_hidden=[32,32]", "ppo.sample_repeats=1",
        "eval_episodes=2", "eval_every=1", "save_video=false", "ppo.iterations=2"]
STATS = {"observation.state": {"min": -np.ones(11), "max": np.ones(11), "mean": np.zeros(11), "std": np.ones(11)},
         "action": {"min": -np.ones(3), "max": np.ones(3), "mean": np.zeros(3), "std": np.ones(3)}}
SHAPE = dict(obs_dim=11, action_dim=3, horizon=4, n_action_steps=2, hidden_dim=32, num_blocks=1)


def flow_policy(num_steps=4) -> FlowPolicy:
    torch.manual_seed(0)
    return FlowPolicy(FlowPolicyConfig(**SHAPE, sampler=SamplerConfig(num_steps=num_steps)), STATS)


def diffusion_policy(**diffusion) -> DiffusionPolicy:
    torch.manual_seed(0)
    return DiffusionPolicy(DiffusionPolicyConfig(**SHAPE, diffusion=DiffusionConfig(**diffusion)), STATS)


def gaussian_policy() -> GaussianPolicy:
    torch.manual_seed(0)
    return GaussianPolicy(GaussianPolicyConfig(**SHAPE, init_std=0.5), STATS)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("ckpt")
    return {"flow": save_policy(flow_policy(), root / "flow"), "ddpm": save_policy(diffusion_policy(), root / "ddpm"),
            "gaussian": save_policy(gaussian_policy(), root / "gaussian")}


def obs_batch(n=16, seed=1) -> torch.Tensor:
    return torch.randn(n, 11, generator=torch.Generator().manual_seed(seed))


# ---- each algorithm: two iterations on Hopper ----------------------------------------------------
@pytest.mark.parametrize("algo, checkpoint, extra", [
    ("reinflow", "flow", []),
    ("reinflow", "flow", ["reinflow.average_log_prob=false", "reinflow.bc_coef=0.1"]),
    ("dppo", "ddpm", []),
    ("dppo", "ddpm", ["dppo.ddim_steps=5", "dppo.ft_denoising_steps=0"]),
    ("fpo", "flow", []),
    ("ppo", "gaussian", []),
])
def test_two_iterations_on_hopper(tmp_path, checkpoints, algo, checkpoint, extra):
    cfg = load_config(FinetuneConfig, "finetune", [f"algo={algo}", *TINY, f"policy.path={checkpoints[checkpoint]}",
                                                   f"output_dir={tmp_path}", *extra])
    run = FinetuneRun(cfg, [])
    summary = run.train()
    rows = run.logger.rows
    assert [r["step"] for r in rows] == [0, 1, 2]
    for row in rows[1:]:
        assert row["ppo/ratio_check"] <= 1e-5  # the harness raises above ppo.ratio_check_tol
        for key in ("ppo/policy_loss", "ppo/value_loss", "ppo/kl", "time/update_us_per_sample", "memory/peak_rss_mb",
                    "eval_zero/return_mean", "eval_stochastic/return_mean", "eval_authors/return_mean"):
            assert math.isfinite(row[key]), key
    copied = {"zero": "eval_zero", "stochastic": "eval_stochastic"}.get(run.algorithm.authors_protocol)
    if copied:  # the authors' protocol is that reading's policy: its numbers, not a third evaluation
        assert rows[-1]["eval_authors/return_mean"] == rows[-1][f"{copied}/return_mean"]
    assert summary["env_steps"] == 2 * 8 * 2 * 2
    exported = load_policy(tmp_path / "checkpoints" / "last", obs_dim=11, action_dim=3)
    assert type(exported) is type(load_policy(checkpoints[checkpoint]))
    if algo == "dppo" and not extra:  # the early DDPM steps keep the frozen pretrained network
        assert exported.base_eps_net is not None and exported.split == 10
        start = load_policy(checkpoints["ddpm"])
        assert torch.equal(exported.base_eps_net.input.weight, start.eps_net.input.weight)
        assert not torch.equal(exported.eps_net.input.weight, start.eps_net.input.weight)


AUTHORS_LAYOUT = ["task.env.num_envs=40", "ppo.steps_per_iter=500"]  # 40 envs x 500 policy steps x chunk 4 (Hopper)


@pytest.mark.parametrize("algo, pairs, minibatches, pairs_each, adam_steps", [
    ("dppo", 10, 4, 50_000, 20),  # (env step, denoising step) pairs: 200,000 in 4 minibatches of 50,000, 5 epochs
    ("reinflow", 1, 4, 50_000, 20),  # 20,000 samples walked 10 times per epoch: 4 minibatches of 50,000, 5 epochs
    ("ppo", 1, 2, 10_000, 20),  # DPPO's Gaussian: 2 minibatches of 10,000 chunks, 10 epochs
])
def test_minibatches_at_the_authors_layout(algo, pairs, minibatches, pairs_each, adam_steps):
    from finetune.ppo import minibatch_layout

    cfg = load_config(FinetuneConfig, "finetune", ["task=hopper", f"algo={algo}", *AUTHORS_LAYOUT])
    samples = cfg.task.env.num_envs * cfg.ppo.steps_per_iter
    assert samples * cfg.task.n_action_steps == 80_000  # env steps per iteration
    layout = minibatch_layout(samples, cfg.ppo, torch.Generator().manual_seed(0))
    assert all(len(epoch) == minibatches for epoch in layout)
    assert {len(index) * pairs for epoch in layout for index in epoch} == {pairs_each}
    assert sum(len(epoch) for epoch in layout) == adam_steps
    counts = torch.bincount(torch.cat(layout[0]), minlength=samples)  # every sample sample_repeats times per epoch
    assert torch.equal(counts, torch.full((samples,), cfg.ppo.sample_repeats))


def test_baselines_refuse_the_wrong_policy_kind():
    with pytest.raises(ValueError, match="fine-tunes a DiffusionPolicy, but the start checkpoint holds a FlowPolicy"):
        DPPO(flow_policy(), DPPOConfig())
    with pytest.raises(ValueError, match="fine-tunes a FlowPolicy, but the start checkpoint holds a DiffusionPolicy"):
        ReinFlow(diffusion_policy(), ReinFlowConfig())


# ---- ratio == 1 at theta_old, log-probs against independent computations -------------------------
def reinflow_reference(alg: ReinFlow, obs: torch.Tensor, chain: torch.Tensor) -> torch.Tensor:
    """Summed chain log-density with torch.distributions, means and stds recomputed by hand."""
    policy, K = alg.policy, chain.shape[1] - 1
    obs_n = (obs - policy.obs_normalizer.mean) / (policy.obs_normalizer.std + 1e-8)
    total = Normal(torch.zeros_like(chain[:, 0]), 1.0).log_prob(chain[:, 0]).sum(-1)
    for k in range(K):
        t = torch.full((obs.shape[0],), k / K)
        mean = (chain[:, k] + (1 / K) * policy.velocity_net(chain[:, k], obs_n, t)).clamp(-1, 1)
        features = torch.cat([alg.time_embedding(t), obs_n], dim=-1)
        u = torch.tanh(alg.noise_net.net(features))
        logvar = 2 * math.log(alg.cfg.min_std) + (2 * math.log(alg.cfg.max_std) - 2 * math.log(alg.cfg.min_std)) * (u + 1) / 2
        total = total + Normal(mean, (0.5 * logvar).exp()).log_prob(chain[:, k + 1]).sum(-1)
    return total


@pytest.mark.parametrize("average", [True, False])
def test_reinflow_log_prob_is_the_chain_density(average):
    alg = ReinFlow(flow_policy(num_steps=10), ReinFlowConfig(num_steps=4, average_log_prob=average))
    obs = obs_batch()
    act = alg.act(obs, torch.Generator().manual_seed(3))
    chain = act.stored
    assert chain.shape == (16, 5, 12) and chain[:, -1].abs().max() <= 1
    reference = reinflow_reference(alg, obs, chain)
    expected = (reference / (5 * 12)).clamp(-1, 1) if average else reference
    torch.testing.assert_close(alg.log_prob(obs, chain), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(act.log_prob, alg.log_prob(obs, chain), rtol=1e-5, atol=1e-5)
    # the evaluation sampler is the plain Euler ODE on the same grid (noise network dropped)
    assert alg.policy.config.sampler.kind == "euler" and alg.policy.config.sampler.num_steps == 4
    torch.testing.assert_close(alg.policy.sampler.t, alg.chain.t)


def test_reinflow_noise_bounds_and_schedule():
    cfg = ReinFlowConfig(min_std=0.1, max_std=0.24)
    alg = ReinFlow(flow_policy(), cfg)
    with torch.no_grad():
        alg.noise_net.net[-1].bias.fill_(50.0)
    assert torch.allclose(alg.noise_std(obs_batch()), torch.tensor(0.24))
    assert max_std_schedule(cfg, 0, 100) == 0.24 and max_std_schedule(cfg, 34, 100) == 0.24
    assert max_std_schedule(cfg, 100, 100) == pytest.approx(0.1 * 0.3 + 0.24 * 0.7)
    alg.begin_iteration(100, 100)
    assert torch.allclose(alg.noise_std(obs_batch()), torch.tensor(0.1 * 0.3 + 0.24 * 0.7))


def ddpm_reference(policy: DiffusionPolicy, obs: torch.Tensor, chain: torch.Tensor, executed: int) -> torch.Tensor:
    """(B, m) DPPO transition log-probs from diffusers' alphas_cumprod and torch.distributions."""
    from diffusers import DDPMScheduler

    T = policy.config.diffusion.num_train_timesteps
    ab = DDPMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2").alphas_cumprod.double()
    obs_n = (obs - policy.obs_normalizer.mean) / (policy.obs_normalizer.std + 1e-8)
    m = chain.shape[1] - 1
    out = []
    for j in range(m):
        k = m - 1 - j  # DDPM timestep of the j-th stored transition (the last m steps of T)
        net = policy.eps_net
        x = chain[:, j]
        eps = net(x, obs_n, torch.full((x.shape[0],), k / T))
        a, a_prev = ab[k], (ab[k - 1] if k > 0 else torch.tensor(1.0, dtype=torch.float64))
        beta = 1 - a / a_prev
        x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
        mean = beta * a_prev.sqrt() / (1 - a) * x0 + (1 - a_prev) * (1 - beta).sqrt() / (1 - a) * x
        std = (beta * (1 - a_prev) / (1 - a)).clamp(min=1e-20).sqrt().clamp(min=0.1)
        entries = Normal(mean.float(), std.float()).log_prob(chain[:, j + 1]).clamp(-5, 2)
        out.append(entries[:, :executed].mean(-1))
    return torch.stack(out, dim=1)


def test_dppo_log_prob_is_the_gaussian_transitions():
    alg = DPPO(diffusion_policy(), DPPOConfig(ft_denoising_steps=10))
    obs = obs_batch()
    act = alg.act(obs, torch.Generator().manual_seed(3))
    assert act.stored.shape == (16, 11, 12) and act.log_prob.shape == (16, 10)
    expected = ddpm_reference(alg.policy, obs, act.stored, executed=2 * 3)
    torch.testing.assert_close(alg.log_prob(obs, act.stored), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(act.log_prob, alg.log_prob(obs, act.stored), rtol=1e-5, atol=1e-5)


def test_dppo_authors_protocol_is_the_noise_free_chain_from_a_random_start():
    alg = DPPO(diffusion_policy(), DPPOConfig(ft_denoising_steps=10))
    obs, policy = obs_batch(), alg.policy
    actions = alg.act_authors(obs, torch.Generator().manual_seed(4))
    sampler = policy.sampler
    x = torch.randn(sampler.latent_shape(16, 12), generator=torch.Generator().manual_seed(4))[:, 0]  # x_T
    eps = policy.eps_fn(obs)
    for i in range(sampler.num_steps):  # DDPM means only: x_{t-1} = coef_x0 * clip(x0_hat) + coef_xt * x_t
        x0 = ((x - (1 - sampler.ab[i]).sqrt() * eps(x, i)) / sampler.ab[i].sqrt()).clamp(-1, 1)
        x = sampler.coef_x0[i] * x0 + sampler.coef_xt[i] * x
    torch.testing.assert_close(actions, policy.to_env_actions(x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(actions, alg.act_for_eval(obs, True))


def test_dppo_surrogate_clip_ranges_and_denoising_discount():
    torch.testing.assert_close(clip_ranges(0.01, 0.001, 3.0, 1), torch.tensor([0.01]))  # no 0/0 with one step
    ranges = clip_ranges(0.01, 0.001, 3.0, 5)
    assert ranges[0] == pytest.approx(0.001) and ranges[-1] == pytest.approx(0.01) and torch.all(ranges[1:] > ranges[:-1])
    alg = DPPO(diffusion_policy(), DPPOConfig(ft_denoising_steps=3, gamma_denoising=0.5, clip_base=0.1, clip_rate=0.0))
    ratio = torch.full((2, 3), 1.5)
    loss, clipped = alg.surrogate(ratio, torch.tensor([1.0, -1.0]), clip=0.3)
    clip = torch.tensor([0.1, 0.2, 0.3])
    weight = torch.tensor([0.25, 0.5, 1.0])
    torch.testing.assert_close(loss[0], -weight * (1 + clip))  # A > 0: clipped at 1 + clip_i
    torch.testing.assert_close(loss[1], weight * 1.5)  # A < 0: the unclipped ratio is the max
    assert clipped.all()


def test_fpo_ratio_terms_and_aspo():
    alg = FPO(flow_policy(), FPOConfig(num_mc=5))
    obs = obs_batch()
    act = alg.act(obs, torch.Generator().manual_seed(3))
    assert act.stored.shape == (16, 6, 13) and act.log_prob.shape == (16, 5)
    action, eps, tau = act.stored[:, 0, :12], act.stored[:, 1:, :12], act.stored[:, 1:, 12]
    obs_n = (obs - alg.policy.obs_normalizer.mean) / (alg.policy.obs_normalizer.std + 1e-8)
    for i in range(5):
        x = tau[:, i, None] * action + (1 - tau[:, i, None]) * eps[:, i]
        loss = (alg.policy.velocity_net(x, obs_n, tau[:, i]) - (action - eps[:, i])).pow(2).mean(-1)
        torch.testing.assert_close(act.log_prob[:, i], -loss, rtol=1e-5, atol=1e-6)
    ratio = torch.tensor([[1.5, 0.5], [1.5, 0.5]])
    loss, _ = alg.surrogate(ratio, torch.tensor([2.0, -2.0]), clip=0.2)
    torch.testing.assert_close(loss[0], torch.tensor([-2.0 * 1.2, -2.0 * 0.5]))  # PPO clip for A >= 0
    spo = -(ratio[1] * -2.0 - 2.0 * (ratio[1] - 1) ** 2 / (2 * 0.2))  # SPO penalty for A < 0
    torch.testing.assert_close(loss[1], spo)


@pytest.mark.parametrize("aspo", [True, False])
def test_fpo_surrogate_at_its_configured_clip(aspo):
    cfg = load_config(FinetuneConfig, "finetune", ["algo=fpo", f"fpo.aspo={str(aspo).lower()}"])
    assert cfg.ppo.clip == 0.05  # FPO v1's clip (unverified for FPO++, configs/algo/fpo.yaml)
    alg = FPO(flow_policy(), cfg.fpo)
    ratio = torch.tensor([[1.2, 0.9], [1.2, 0.9]])
    advantage = torch.tensor([1.0, -1.0])
    loss, clipped = alg.surrogate(ratio, advantage, clip=cfg.ppo.clip)
    # by hand: A > 0, PPO clip at [0.95, 1.05]: -min(r A, clip(r) A)
    torch.testing.assert_close(loss[0], torch.tensor([-1.05, -0.9]))
    if aspo:  # A < 0: SPO's penalty -(r A - |A| (r - 1)^2 / (2 eps)), never flat
        torch.testing.assert_close(loss[1], torch.tensor([1.2 + 0.04 / 0.1, 0.9 + 0.01 / 0.1]))
    else:  # A < 0, PPO: -min(r A, clip(r) A) = max(r, clip(r)) * |A|
        torch.testing.assert_close(loss[1], torch.tensor([1.2, 0.95]))
    assert clipped.tolist() == [[True, True], [True, True]]


def test_gaussian_ppo_log_prob_is_dppos_clamped_mean_over_the_chunk():
    alg = GaussianPPO(gaussian_policy(), GaussianPPOConfig(init_std=0.2))
    obs = obs_batch()
    act = alg.act(obs, torch.Generator().manual_seed(3))
    mean, std = alg.policy.distribution(obs)
    assert torch.allclose(std, torch.tensor(0.2)) and act.stored.shape == (16, 12)
    per_entry = Normal(mean, std).log_prob(act.stored)  # all 4 x 3 chunk entries
    torch.testing.assert_close(act.log_prob, per_entry.mean(-1).clamp(-5, 2))
    far = act.stored.clone()
    far[:8] += 5.0  # 25 std away: the mean log-density is about -312, clamped to DPPO's -5
    assert torch.equal(alg.log_prob(obs, far)[:8], torch.full((8,), -5.0))


def test_gaussian_ppo_can_use_the_exact_marginal_of_the_executed_actions():
    alg = GaussianPPO(gaussian_policy(), GaussianPPOConfig(init_std=0.2, average_log_prob=False, executed_only=True))
    obs = obs_batch()
    act = alg.act(obs, torch.Generator().manual_seed(3))
    mean, std = alg.policy.distribution(obs)
    torch.testing.assert_close(act.log_prob, Normal(mean[:, :6], std[:6]).log_prob(act.stored[:, :6]).sum(-1))


# ---- DDPM / DDIM schedules against diffusers -------------------------------------------------------
def dppo_cosine_alphas_cumprod(T: int, s: float = 0.008) -> np.ndarray:
    """DPPO's cosine_beta_schedule, written out independently."""
    x = np.linspace(0, T + 1, T + 1)
    ac = np.cos(((x / (T + 1)) + s) / (1 + s) * np.pi * 0.5) ** 2
    ac = ac / ac[0]
    betas = np.clip(1 - ac[1:] / ac[:-1], 0, 0.999)
    return np.cumprod(1 - betas)


def test_schedule_tables_match_diffusers_and_dppo():
    from diffusers import DDIMScheduler, DDPMScheduler

    sampler = DenoisingSampler(20, "squaredcos_cap_v2")
    reference = DDPMScheduler(num_train_timesteps=20, beta_schedule="squaredcos_cap_v2")
    torch.testing.assert_close(sampler.alphas_cumprod, reference.alphas_cumprod.double())
    np.testing.assert_allclose(sampler.alphas_cumprod.numpy(), dppo_cosine_alphas_cumprod(20), rtol=1e-5, atol=1e-8)
    assert sampler.timesteps == list(range(19, -1, -1))
    ddim = DenoisingSampler(100, "squaredcos_cap_v2", ddim_steps=5)
    ref = DDIMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2", timestep_spacing="leading")
    ref.set_timesteps(5)
    assert ddim.timesteps == ref.timesteps.tolist() == [80, 60, 40, 20, 0]
    for i, k in enumerate(ddim.timesteps):  # DDIM eta = 1 std: diffusers' variance
        prev = k - 20
        torch.testing.assert_close(ddim.std[i] ** 2, ref._get_variance(k, prev).double().clamp(min=1e-20), rtol=1e-5, atol=1e-12)
    for i, k in enumerate(sampler.timesteps):  # DDPM posterior variance (fixed_small)
        torch.testing.assert_close(sampler.std[i] ** 2, reference._get_variance(k).double(), rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("ddim_steps", [0, 4])
def test_denoising_steps_match_diffusers_step(ddim_steps):
    """One transition (mean + std * noise, x0 clipped to +-1) against diffusers' step() with the same noise."""
    from diffusers import DDIMScheduler, DDPMScheduler

    T = 20
    sampler = DenoisingSampler(T, "squaredcos_cap_v2", ddim_steps=ddim_steps, eta=1.0, x0_clip=1.0, noise_clip=0.0,
                               min_sampling_std=0.0)
    if ddim_steps:
        ref = DDIMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2", clip_sample=True, clip_sample_range=1.0,
                            set_alpha_to_one=True, steps_offset=0, timestep_spacing="leading")
        ref.set_timesteps(ddim_steps)
    else:
        ref = DDPMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2", clip_sample=True, clip_sample_range=1.0)
        ref.set_timesteps(T)
    g = torch.Generator().manual_seed(0)
    x, eps = 2 * torch.randn(8, 6, generator=g), torch.randn(8, 6, generator=g)
    for i, k in enumerate(sampler.timesteps):
        noise = torch.randn(8, 6, generator=torch.Generator().manual_seed(i))
        mean, std = sampler.mean_std(eps, x, i)
        ours = mean + std * noise
        kwargs = {"eta": 1.0, "use_clipped_model_output": True} if ddim_steps else {}
        theirs = ref.step(eps, k, x, generator=torch.Generator().manual_seed(i), **kwargs).prev_sample
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
        if ddim_steps:  # zero sampling: deterministic DDIM (eta = 0)
            deterministic = ref.step(eps, k, x, eta=0.0, use_clipped_model_output=True).prev_sample
            torch.testing.assert_close(sampler.mean_std(eps, x, i, deterministic=True)[0], deterministic, rtol=1e-4, atol=1e-5)


# ---- pretraining objectives ------------------------------------------------------------------------
@pytest.mark.parametrize("objective", ["ddpm", "gaussian"])
def test_pretraining_objective_writes_a_loadable_policy(tmp_path, objective):
    from pretrain.data import Demonstrations
    from pretrain.run import PretrainConfig, shaped_by, train

    g = torch.Generator().manual_seed(0)
    demos = Demonstrations(torch.randn(64, 11, generator=g), torch.rand(64, 4, 3, generator=g) * 2 - 1, STATS)
    cfg = PretrainConfig(objective=objective, steps=30, batch_size=32, log_every=10)
    cfg.policy.hidden_dim, cfg.policy.num_blocks = 32, 1
    policy = train(shaped_by(cfg, demos), demos, tmp_path)
    losses = [r[f"train/{objective}_loss"] for r in MetricsLogger.read_csv(tmp_path / "metrics.csv")]
    assert losses[-1] < losses[0]
    save_policy(policy, tmp_path / "ckpt")
    loaded = load_policy(tmp_path / "ckpt", obs_dim=11, action_dim=3)
    assert type(loaded) is type(policy) and loaded.config.hidden_dim == 32
    obs = obs_batch(4)
    torch.testing.assert_close(loaded.sample(obs, zero=True).env_actions, policy.sample(obs, zero=True).env_actions)
