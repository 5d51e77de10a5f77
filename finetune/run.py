"""Stage 2: PPO fine-tuning of a pretrained flow policy (GenPO++ by default).

    accelerate launch finetune/run.py                                   # embedded default: Hopper, GenPO++, CPU
    accelerate launch finetune/run.py task=pusht ppo.iterations=50
    accelerate launch finetune/run.py policy.path=runs/pretrain/x/checkpoint seed=1
    accelerate launch finetune/run.py policy.from_scratch=true
    accelerate launch finetune/run.py output_dir=runs/finetune/x resume=true
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 finetune/run.py   # 2 CPU ranks
"""

from __future__ import annotations

import sys

from finetune.config import FinetuneConfig
from finetune.runner import FinetuneRun
from genpo.cli import user_errors
from genpo.config import load_config, load_saved_config, resolve_path


def start(argv: list[str]) -> FinetuneRun:
    """Everything that can fail on bad input (config, checkpoint, env spec and envs): a run ready to train."""
    cfg = load_config(FinetuneConfig, "finetune", argv)
    if cfg.resume:  # continue with the run's own resolved config (plus any overrides given now)
        saved = resolve_path(cfg.output_dir) / "config.yaml"
        if not saved.is_file():
            raise FileNotFoundError(f"resume=true but {saved} does not exist (output_dir must be the run directory)")
        cfg = load_saved_config(FinetuneConfig, saved, [a for a in argv if a.split("=")[0] not in ("task", "algo")])
    return FinetuneRun(cfg, argv)


def main(argv: list[str]) -> dict:
    return start(argv).train()


if __name__ == "__main__":
    with user_errors():  # a bad key, task or checkpoint: one line on stderr, exit status 2
        run = start(sys.argv[1:])
    run.train()  # outside: an error while training keeps its traceback
