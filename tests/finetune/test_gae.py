import torch

from finetune.buffer import RewardScaler, compute_gae


def test_gae_truncation_vs_termination_hand_computed():
    gamma, lam = 0.9, 0.8
    reward = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    value = torch.tensor([[0.5, 0.5], [0.6, 0.6], [0.7, 0.7]])
    no = torch.zeros(3, 2, dtype=torch.bool)
    truncated, terminated = no.clone(), no.clone()
    truncated[1, 0] = True  # env 0: time limit after step 1, bootstrap from V(final_obs) = 10
    terminated[1, 1] = True  # env 1: terminal state after step 1
    bootstrap = torch.zeros(3, 2)
    bootstrap[1, 0] = 10.0
    adv, ret = compute_gae(reward, value, terminated, truncated, bootstrap, torch.tensor([0.8, 0.8]), gamma, lam)
    # t=2: 3 + 0.9*0.8 - 0.7 = 3.02 in both envs
    # env 0, t=1: 2 + 0.9*10 - 0.6 = 10.4 (cut); t=0: (1 + 0.9*0.6 - 0.5) + 0.72*10.4 = 8.528
    # env 1, t=1: 2 - 0.6 = 1.4 (no bootstrap); t=0: 1.04 + 0.72*1.4 = 2.048
    expected = torch.tensor([[8.528, 2.048], [10.4, 1.4], [3.02, 3.02]])
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, expected + value)


def test_gae_without_episode_ends_matches_discounted_td_sum():
    torch.manual_seed(0)
    T, gamma, lam = 6, 0.97, 0.9
    reward, value, last = torch.randn(T, 1), torch.randn(T, 1), torch.randn(1)
    no = torch.zeros(T, 1, dtype=torch.bool)
    adv, _ = compute_gae(reward, value, no, no, torch.zeros(T, 1), last, gamma, lam)
    next_value = torch.cat([value[1:], last[None]])
    delta = reward + gamma * next_value - value
    expected = torch.stack([sum((gamma * lam) ** (k - t) * delta[k] for k in range(t, T)) for t in range(T)])
    torch.testing.assert_close(adv, expected)


def test_reward_scaler_divides_by_running_return_std():
    scaler = RewardScaler(num_envs=2, gamma=0.5)
    done = torch.zeros(2, dtype=torch.bool)
    returns = []
    discounted = torch.zeros(2, dtype=torch.float64)
    for r in ([1.0, 2.0], [3.0, -1.0], [0.5, 0.5]):
        reward = torch.tensor(r)
        discounted = discounted * 0.5 + reward.double()
        returns.append(discounted.clone())
        scaled = scaler(reward, done)
    std = torch.cat(returns).std().item()
    torch.testing.assert_close(scaled, torch.tensor([0.5, 0.5]) / std)
