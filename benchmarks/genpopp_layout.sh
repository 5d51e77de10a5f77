#!/bin/bash
# GenPO++ on Hopper-medium at 1,040,000 env steps with a fifth of the campaign's iteration size (issue 10 item 2: "a
# scaled layout with the same gradient steps per env step"): 40 envs x 100 policy steps x chunk 4 = 16,000 env steps
# per iteration, 65 iterations, against the campaign's 40 x 500 x 4, 13 iterations. Minibatches of 256 and 5 epochs
# keep the Adam steps per env step; what changes is how often the policy is refreshed and the LR re-adapted.
# Evaluations every 13 iterations (208,000 env steps), 80 episodes per protocol. Resumable: a finished variant
# (report.json) is skipped, an interrupted one resumes from checkpoints/last.
#   bash benchmarks/genpopp_layout.sh [seed]          NAMES="steps100 steps100_kl0.05" picks variants
set -eu
cd "$(dirname "$0")/.."
SEED=${1:-0}
OUT=benchmarks/results/genpopp_layout
COMMON="task=hopper algo=genpopp seed=$SEED eval_every=13 eval_episodes=50 save_video=false ppo.critic_warmup_iters=1
        task.env.num_envs=40 ppo.steps_per_iter=100 ppo.iterations=65"
declare -A VARIANTS=(
  [steps100]=""                         # the defaults (action-level KL target 0.02)
  [steps100_kl0.05]="ppo.target_kl=0.05"  # the LR hypothesis: a looser KL target lets the adaptive LR rise
)
mkdir -p "$OUT"
for name in ${NAMES:-steps100 steps100_kl0.05}; do
  dir=$OUT/${name}_s$SEED
  [ -f "$dir/report.json" ] && continue
  resume=false; [ -f "$dir/checkpoints/last/training_state.pt" ] && resume=true
  python -m finetune.run $COMMON ${VARIANTS[$name]} output_dir=$dir resume=$resume >> "$dir.log" 2>&1
done
