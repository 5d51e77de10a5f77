#!/bin/bash
# GenPO++ trust-region variants on the D4RL-style Hopper medium checkpoint (issue 9 item 2), one run at a time,
# resumable: a variant whose report.json exists is skipped. Usage: bash benchmarks/trust_region.sh [iterations] [seed]
set -u
cd "$(dirname "$0")/.."
ITERS=${1:-60}
SEED=${2:-0}
OUT=benchmarks/results/trust_region
COMMON="policy.path=checkpoints/hopper_medium_ppo genpopp.sigma=0.7 ppo.iterations=$ITERS eval_every=10 eval_episodes=16 save_video=false seed=$SEED"
declare -A VARIANTS=(
  [ratio_kl_0.01]="ppo.kl_measure=ratio ppo.target_kl=0.01"
  [action_kl_0.02]="ppo.kl_measure=action ppo.target_kl=0.02"
  [action_kl_0.1]="ppo.kl_measure=action ppo.target_kl=0.1"
  [fixed_lr_1e-5]="ppo.target_kl=0 ppo.actor_lr=1e-5"
  [fixed_lr_3e-5_clip_0.05]="ppo.target_kl=0 ppo.actor_lr=3e-5 ppo.clip=0.05"
  [ratio_kl_0.01_lr_1e-5]="ppo.kl_measure=ratio ppo.target_kl=0.01 ppo.actor_lr=1e-5"
  [base_std_0.3_action_kl_0.02]="genpopp.base_std=0.3 ppo.kl_measure=action ppo.target_kl=0.02"
  [base_std_0.3_fixed_lr_1e-5]="genpopp.base_std=0.3 ppo.target_kl=0 ppo.actor_lr=1e-5"
)
NAMES=${NAMES:-"ratio_kl_0.01 action_kl_0.02 fixed_lr_1e-5 fixed_lr_3e-5_clip_0.05 action_kl_0.1 ratio_kl_0.01_lr_1e-5"}
for name in $NAMES; do
  dir=runs/trust_region/${name}_s$SEED
  [ -f "$OUT/${name}_s$SEED/report.json" ] && continue
  rm -rf "$dir"
  python finetune/run.py $COMMON ${VARIANTS[$name]} output_dir=$dir > "$dir.log" 2>&1 || { echo "$name failed"; continue; }
  mkdir -p "$OUT/${name}_s$SEED"
  cp "$dir"/{config.yaml,metrics.csv,report.json,report.md} "$OUT/${name}_s$SEED/"
  echo "$name done"
done
