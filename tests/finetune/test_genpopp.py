"""GenPO++'s start from a checkpoint (the distillation to the reversible sampler, the conversion notes) and its
reading under the authors' evaluation protocol."""

import torch

from finetune.algos.genpopp import GenPOpp, GenPOppConfig
from finetune.conversion import check_conversion, zero_sampling_actions
from genpo.policies import FlowPolicy


def start(tiny_policy, **cfg):
    policy = tiny_policy(FlowPolicy)
    policy.pretrained = True
    obs = torch.randn(512, policy.config.obs_dim, generator=torch.Generator().manual_seed(3))
    own = zero_sampling_actions(policy, obs)
    return GenPOpp(policy, GenPOppConfig(**cfg)), obs, own


def test_distillation_brings_the_reversible_sampler_to_the_checkpoints_own(tiny_policy):
    plain, obs, own = start(tiny_policy, distill_steps=0, sigma=0.7)
    plain.prepare(obs)
    distilled, _, _ = start(tiny_policy, distill_steps=200, distill_lr=1e-3, sigma=0.7)
    distilled.prepare(obs)
    before = check_conversion(own, plain, obs, []).rms
    after = check_conversion(own, distilled, obs, []).rms
    assert after < 0.2 * before, (before, after)
    assert distilled.policy.config.sampler.kind == "reversible" and "log_tau" in distilled.policy.sampler_params()


def test_a_converted_checkpoint_is_not_distilled_again(tiny_policy):
    algorithm, obs, _ = start(tiny_policy, distill_steps=50)
    algorithm.prepare(obs)
    again = GenPOpp(algorithm.policy, GenPOppConfig(distill_steps=50))  # e.g. resuming from checkpoints/last
    weights = {k: v.clone() for k, v in again.policy.velocity_net.state_dict().items()}
    again.prepare(obs)
    assert all(torch.equal(weights[k], v) for k, v in again.policy.velocity_net.state_dict().items())


def test_settings_that_do_not_reproduce_a_checkpoint_are_named(tiny_policy):
    algorithm, _, _ = start(tiny_policy, coefficient="dt", init="independent")
    notes = " ".join(algorithm.conversion_notes())
    assert "genpopp.coefficient=dt on a pretrained checkpoint" in notes and "genpopp.init=independent" in notes
    assert start(tiny_policy)[0].conversion_notes() == []


def test_the_authors_protocol_runs_the_sampler_from_unit_noise_without_history_noise(tiny_policy):
    algorithm, obs, _ = start(tiny_policy, base_std=0.3, distill_steps=0)
    algorithm.prepare(obs)
    actions = algorithm.act_authors(obs[:64], torch.Generator().manual_seed(5))
    x0 = torch.randn((64, algorithm.policy.config.flat_action_dim), generator=torch.Generator().manual_seed(5))
    latent = torch.stack([x0, torch.zeros_like(x0)], dim=1)  # unit std whatever base_std; xi = 0
    torch.testing.assert_close(actions, algorithm.policy.sample(obs[:64], latent).env_actions)
