#!/usr/bin/env bash
# The comparison campaign (README "Comparison"): five methods from the checkpoints pretrained for them on the same data
# with the same network and updates, 3 seeds, evaluated with zero sampling, stochastic sampling and each method's
# authors' protocol (eval_episodes=50: 80 episodes, 2 per env, on Hopper's and Walker2d's 40 envs; 56 on PushT's 8;
# every 3 iterations and at the end).
#
#   bash benchmarks/campaign.sh            # runs, or resumes, everything not finished; JOBS=2 runs two at a time
#   SEEDS="1 2" bash benchmarks/campaign.sh  # a second stream beside the first: runs one holds (.lock) are skipped
#
# Layout on Hopper: the authors' (ReinFlow and DPPO locomotion), 40 envs x 500 policy steps x chunk 4 = 80,000 env
# steps per iteration, 13 iterations = 1,040,000 env steps; each method's minibatches per epoch and epochs as its
# authors' (configs/algo/*.yaml). Walker2d executes 2 of its 4 actions (configs/task/walker2d.yaml: open-loop chunks
# of 4 halve the return of every policy cloned from the medium data), so 40 envs x 1,000 policy steps x 2 keeps the
# 80,000 env steps and, with the same minibatch count, the same Adam steps per iteration. PushT: the task's 8 envs x 128 policy steps x 8 actions (no published
# locomotion-style layout), 62 iterations = 507,904 env steps. One critic warm-up iteration for every method.
# Interrupted runs resume from their checkpoints/last; finished ones (report.json) are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/campaign
COMMON=(eval_every=3 eval_episodes=50 save_video=false ppo.critic_warmup_iters=1
        hopper:task.env.num_envs=40 hopper:ppo.steps_per_iter=500 walker2d:task.env.num_envs=40 walker2d:ppo.steps_per_iter=1000)
for seed in ${SEEDS:-0 1 2}; do
  python tools/compare.py --tasks hopper --algos genpopp reinflow dppo fpo ppo --seeds "$seed" --env-steps 1000000 \
    --out "$OUT/hopper" --jobs "${JOBS:-1}" "${COMMON[@]}"
  python tools/compare.py --tasks walker2d --algos genpopp reinflow dppo --seeds "$seed" --env-steps 1000000 \
    --out "$OUT/walker2d" --jobs "${JOBS:-1}" "${COMMON[@]}"
  python tools/compare.py --tasks pusht --algos genpopp reinflow dppo fpo ppo --seeds "$seed" --env-steps 500000 \
    --out "$OUT/pusht" --jobs "${JOBS:-1}" "${COMMON[@]}"
done
