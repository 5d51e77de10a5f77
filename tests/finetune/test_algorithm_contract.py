"""The contract every registered algorithm keeps (finetune.algos.ALGORITHMS), checked for each:

- the log-prob of what `act` stored, recomputed by `log_prob` and by the training-time `evaluate`,
  equals the sampling-time one (float64: to round-off), so PPO's ratio is 1 at theta_old and nothing
  is clipped on the first minibatch;
- the exported policy is a policy directory that reloads to the same kind and acts the same.

Registering an algorithm puts it under this test (tests/test_recipes.py walks the recipe with a toy one);
the check itself is the `algorithm_contract` fixture of tests/conftest.py.
"""

import pytest

from finetune.algos import ALGORITHMS


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_registered_algorithm_keeps_the_contract(name, tiny_policy, algorithm_contract, tmp_path):
    algorithm_type = ALGORITHMS[name]
    algorithm_contract(algorithm_type, tiny_policy(algorithm_type.policy_class).double(), tmp_path)
