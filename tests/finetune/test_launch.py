"""Multi-GPU readiness that a CPU machine can check: sampler state on the policy's device (the `meta`
device stands in for CUDA: any tensor created on the CPU after the policy moved shows up as a device
mismatch), float32 only, the world size checked at start, shipped accelerate configs."""

from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf
from test_baselines import diffusion_policy, flow_policy, gaussian_policy

from finetune.algos import ALGORITHMS
from finetune.config import FinetuneConfig
from finetune.runner import check_launch
from genpo.config import CONFIG_DIR

POLICY_OF = {"dppo": diffusion_policy, "ppo": gaussian_policy}


def tensors_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return dict(module.named_parameters()) | dict(module.named_buffers())


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_sampler_state_is_created_on_the_policy_device(algo):
    policy = POLICY_OF.get(algo, flow_policy)().to("meta")
    policy.pretrained = True  # GenPO++'s init B, with its log tau
    algorithm_type = ALGORITHMS[algo]
    obs = torch.empty(8, policy.config.obs_dim, device="meta")
    algorithm = algorithm_type(policy, getattr(FinetuneConfig(), algorithm_type.section()))
    algorithm.prepare(obs)
    off_device = {name: t.device for name, t in tensors_of(algorithm).items() if t.device.type != "meta"}
    assert not off_device, f"{algo}: created off the policy's device: {off_device}"
    act = algorithm.act(obs)
    assert act.stored.device.type == "meta" and act.log_prob.device.type == "meta"
    assert algorithm.log_prob(obs, act.stored).device.type == "meta"


@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp8"])
def test_mixed_precision_is_refused_with_the_reason(precision):
    with pytest.raises(ValueError, match="needs float32"):
        check_launch(SimpleNamespace(mixed_precision=precision, num_processes=1), processes=0)


def test_world_size_is_checked_at_start(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    check_launch(SimpleNamespace(mixed_precision="no", num_processes=1), processes=0)
    check_launch(SimpleNamespace(mixed_precision="no", num_processes=1), processes=1)
    # `accelerate launch --cpu --num_processes 2`: one process, no WORLD_SIZE
    with pytest.raises(ValueError, match="1 synchronised rank"):
        check_launch(SimpleNamespace(mixed_precision="no", num_processes=1), processes=2)
    # two processes started, but each initialised alone (no GPU, no ACCELERATE_USE_CPU)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="ACCELERATE_USE_CPU=true"):
        check_launch(SimpleNamespace(mixed_precision="no", num_processes=1), processes=0)
    check_launch(SimpleNamespace(mixed_precision="no", num_processes=2), processes=2)


@pytest.mark.parametrize("name, processes, use_cpu", [("cpu", 1, True), ("cpu_2proc", 2, False), ("gpu", 1, False),
                                                       ("multi_gpu", 2, False)])
def test_shipped_accelerate_configs_run_in_float32(name, processes, use_cpu):
    cfg = OmegaConf.load(CONFIG_DIR / "accelerate" / f"{name}.yaml")
    assert cfg.mixed_precision == "no" and cfg.num_processes == processes and cfg.use_cpu is use_cpu
