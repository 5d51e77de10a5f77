"""Run under `accelerate launch`: one GenPO++ PPO iteration, then each rank dumps its parameters.

    accelerate launch --multi_gpu --num_processes 2 tests/finetune/ddp_worker.py OUT_DIR key=value ...
"""

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from finetune.config import FinetuneConfig
from finetune.runner import FinetuneRun
from genpo.config import load_config

out_dir, overrides = Path(sys.argv[1]), sys.argv[2:]
run = FinetuneRun(load_config(FinetuneConfig, "finetune", overrides), overrides)
rank, world = run.accelerator.process_index, run.accelerator.num_processes
before = {f"before.{n}": p.detach().clone() for n, p in run.ppo.unwrapped.named_parameters()}
metrics = run.ppo.iterate()
after = {f"after.{n}": p.detach().clone() for n, p in run.ppo.unwrapped.named_parameters()}
extra = {
    "world_size": torch.tensor(world),
    "last_obs": run.ppo.obs.cpu(),
    "ratio_check": torch.tensor(metrics["ppo/ratio_check"]),
}
save_file({**before, **after, **extra}, out_dir / f"rank{rank}.safetensors")
