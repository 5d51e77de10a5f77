import os

# No downloads at test time: every Hugging Face client must stay offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # small networks: one thread per process, no oversubscription

import torch  # noqa: E402

torch.set_num_threads(1)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from finetune.algos import Algorithm  # noqa: E402
from genpo.checkpoint import load_policy, save_policy  # noqa: E402
from genpo.policies import POLICY_CLASSES, ChunkPolicy  # noqa: E402

HOPPER_STATS = {"observation.state": {"min": -np.ones(11), "max": np.ones(11), "mean": np.zeros(11), "std": np.ones(11)},
                "action": {"min": -np.ones(3), "max": np.ones(3), "mean": np.zeros(3), "std": np.ones(3)}}
TINY_SHAPE = dict(obs_dim=11, action_dim=3, horizon=4, n_action_steps=2, hidden_dim=32, num_blocks=1)


@pytest.fixture
def tiny_policy():
    """Factory: a small, seeded, randomly initialised policy of a kind (a genpo.policies class) with Hopper's
    dimensions, e.g. tiny_policy(FlowPolicy)."""

    def make(kind: type[ChunkPolicy], **config) -> ChunkPolicy:
        assert kind in POLICY_CLASSES, kind
        torch.manual_seed(0)
        return kind(kind.config_class(**TINY_SHAPE, **config), HOPPER_STATS)

    return make


@pytest.fixture
def algorithm_contract():
    """check(algorithm_type, policy, tmp_path): what every registered algorithm must keep (in float64): the
    log-prob of what `act` stored, recomputed by `log_prob` and `evaluate`, equals the sampling-time one, so
    PPO's ratio is 1 and nothing is clipped at theta_old; the authors' evaluation protocol is declared (and, where
    it is its own, seeded and not zero sampling); the exported policy reloads and acts the same."""

    def check(algorithm_type: type[Algorithm], policy: ChunkPolicy, tmp_path) -> None:
        policy.pretrained = True  # as loaded from a checkpoint (GenPO++ then uses its init B)
        algorithm = algorithm_type(policy, algorithm_type.config_class()).double()
        obs = torch.randn(32, policy.config.obs_dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        algorithm.prepare(obs)
        act = algorithm.act(obs, torch.Generator().manual_seed(2))
        assert act.env_actions.shape == (32, policy.config.n_action_steps, policy.config.action_dim)
        assert torch.isfinite(act.log_prob).all() and torch.isfinite(act.env_actions).all()

        torch.testing.assert_close(algorithm.log_prob(obs, act.stored), act.log_prob, rtol=0, atol=1e-9)
        evaluation = algorithm.evaluate(obs, act.stored)
        ratio = (evaluation.log_prob - act.log_prob).exp()
        torch.testing.assert_close(ratio, torch.ones_like(ratio), rtol=0, atol=1e-9)
        loss, clipped = algorithm.surrogate(ratio, torch.randn(32, dtype=torch.float64), clip=0.01)
        assert torch.isfinite(loss).all() and not clipped.any()

        assert algorithm.authors_protocol in ("zero", "stochastic", "own") and algorithm.authors_protocol_text
        if algorithm.authors_protocol == "own":  # the authors' evaluation: a policy of its own, seeded
            authors = algorithm.act_authors(obs, torch.Generator().manual_seed(3))
            assert authors.shape == act.env_actions.shape and torch.isfinite(authors).all()
            torch.testing.assert_close(authors, algorithm.act_authors(obs, torch.Generator().manual_seed(3)))
            assert not torch.allclose(authors, algorithm.act_for_eval(obs, True))

        exported = algorithm.export_policy()
        reloaded = load_policy(save_policy(exported, tmp_path / "export"), obs_dim=policy.config.obs_dim,
                               action_dim=policy.config.action_dim).double()
        assert type(reloaded) is type(exported)
        torch.testing.assert_close(reloaded.sample(obs, zero=True).env_actions, exported.sample(obs, zero=True).env_actions)

    return check
