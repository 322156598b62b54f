# ruff: noqa: UP008, UP032, B007  (the public example's own idioms, kept as written)
"""PyTorch's examples/reinforcement_learning/reinforce.py runs on mathdl with only the import changed.

Kept: ``Policy`` (Linear, ``nn.Dropout(p=0.6)``, ``F.softmax``) with ``saved_log_probs`` and
``rewards`` lists, ``select_action`` (``torch.from_numpy(state).float().unsqueeze(0)``,
``Categorical(probs)``, ``m.sample()``, ``m.log_prob(action)``, ``action.item()``), ``finish_episode``
(discounted returns in a ``deque``, ``torch.tensor(returns)``, standardised with
``np.finfo(np.float32).eps.item()``, ``torch.cat(policy_loss).sum()``, ``del policy.rewards[:]``) and
``main``'s running reward.  Changed: gym's CartPole-v1 becomes the same equations written here in
NumPy (gym is not a dependency), and the episode count is capped.  Sampling differs between the
libraries, so the whole run is checked on mathdl; ``finish_episode``'s update is compared with
PyTorch's from the same weights, states and actions.
"""

import argparse
import math
from collections import deque
from itertools import count

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


class CartPole:
    """gym's CartPole-v1: the same equations of motion (Euler, tau = 0.02), termination at |x| > 2.4 or
    |theta| > 12 degrees, truncation at 500 steps, reward 1 a step, reward_threshold 475."""

    spec = type("Spec", (), {"reward_threshold": 475.0})

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.state, self.t = self.rng.uniform(-0.05, 0.05, 4), 0
        return self.state.astype(np.float32), {}

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = 10.0 if action == 1 else -10.0
        costheta, sintheta = math.cos(theta), math.sin(theta)
        temp = (force + 0.05 * theta_dot ** 2 * sintheta) / 1.1
        thetaacc = (9.8 * sintheta - costheta * temp) / (0.5 * (4.0 / 3.0 - 0.1 * costheta ** 2 / 1.1))
        xacc = temp - 0.05 * thetaacc * costheta / 1.1
        x, x_dot = x + 0.02 * x_dot, x_dot + 0.02 * xacc
        theta, theta_dot = theta + 0.02 * theta_dot, theta_dot + 0.02 * thetaacc
        self.state, self.t = np.array([x, x_dot, theta, theta_dot]), self.t + 1
        terminated = bool(abs(x) > 2.4 or abs(theta) > 12 * 2 * math.pi / 360)
        return self.state.astype(np.float32), 1.0, terminated, self.t >= 500, {}


def reinforce(torch, argv=(), max_episodes=60, copy_from=None):
    nn, optim = torch.nn, torch.optim
    F = torch.nn.functional
    Categorical = torch.distributions.Categorical
    log, history = [], []

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    parser = argparse.ArgumentParser(description='PyTorch REINFORCE example')
    parser.add_argument('--gamma', type=float, default=0.99, metavar='G',
                        help='discount factor (default: 0.99)')
    parser.add_argument('--seed', type=int, default=543, metavar='N',
                        help='random seed (default: 543)')
    parser.add_argument('--render', action='store_true',
                        help='render the environment')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='interval between training status logs (default: 10)')
    args = parser.parse_args(list(argv))

    env = CartPole(args.seed)  # gym.make('CartPole-v1')
    env.reset(seed=args.seed)
    torch.manual_seed(args.seed)

    class Policy(nn.Module):
        def __init__(self):
            super(Policy, self).__init__()
            self.affine1 = nn.Linear(4, 128)
            self.dropout = nn.Dropout(p=0.6)
            self.affine2 = nn.Linear(128, 2)

            self.saved_log_probs = []
            self.rewards = []

        def forward(self, x):
            x = self.affine1(x)
            x = self.dropout(x)
            x = F.relu(x)
            action_scores = self.affine2(x)
            return F.softmax(action_scores, dim=1)

    policy = Policy()
    if copy_from is not None:  # (test only: the other library's initial weights)
        policy.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    eps = np.finfo(np.float32).eps.item()

    def select_action(state):
        state = torch.from_numpy(state).float().unsqueeze(0)
        probs = policy(state)
        m = Categorical(probs)
        action = m.sample()
        policy.saved_log_probs.append(m.log_prob(action))
        return action.item()

    def finish_episode():
        R = 0
        policy_loss = []
        returns = deque()
        for r in policy.rewards[::-1]:
            R = r + args.gamma * R
            returns.appendleft(R)
        returns = torch.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        for log_prob, R in zip(policy.saved_log_probs, returns):
            policy_loss.append(-log_prob * R)
        optimizer.zero_grad()
        policy_loss = torch.cat(policy_loss).sum()
        policy_loss.backward()
        optimizer.step()
        del policy.rewards[:]
        del policy.saved_log_probs[:]
        return policy_loss.item()

    def main():
        running_reward = 10
        for i_episode in count(1):
            state, _ = env.reset()
            ep_reward = 0
            for t in range(1, 10000):  # Don't infinite loop while learning
                action = select_action(state)
                state, reward, done, _, _ = env.step(action)
                if args.render:
                    env.render()
                policy.rewards.append(reward)
                ep_reward += reward
                if done:
                    break

            running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
            finish_episode()
            history.append(ep_reward)
            if i_episode % args.log_interval == 0:
                print('Episode {}\tLast reward: {:.2f}\tAverage reward: {:.2f}'.format(
                      i_episode, ep_reward, running_reward))
            if running_reward > env.spec.reward_threshold:
                print("Solved! Running reward is now {} and "
                      "the last time step runs to {} time steps!".format(running_reward, t))
                break
            if i_episode >= max_episodes:  # (test only: a capped run)
                break

    return policy, select_action, finish_episode, main, history, log


def test_reinforce_runs_on_cartpole():
    policy, _, _, main, history, log = reinforce(mathdl, max_episodes=80)
    main()
    assert len(history) == 80 and all(1 <= r <= 10000 for r in history)
    assert log[0].startswith("Episode 10\tLast reward: ") and len(log) == 8
    assert np.mean(history[-20:]) > 1.5 * np.mean(history[:10])  # seed 543: 25 steps an episode -> 76
    assert policy.saved_log_probs == [] and policy.rewards == []


def test_finish_episode_matches_pytorch():
    # the same weights, states and actions: the REINFORCE loss and the Adam step agree
    rng = np.random.default_rng(0)
    states = rng.uniform(-0.05, 0.05, (12, 4)).astype(np.float32)
    actions = rng.integers(0, 2, 12)
    results = []
    init = None
    for lib in (mathdl, torch):
        policy, _, finish_episode, _, _, _ = reinforce(lib, copy_from=init)
        init = init or {k: v.detach().numpy().copy() for k, v in policy.state_dict().items()}
        policy.eval()  # dropout off: the same probabilities in both
        for s, a in zip(states, actions):
            m = lib.distributions.Categorical(policy(lib.from_numpy(s).float().unsqueeze(0)))
            policy.saved_log_probs.append(m.log_prob(lib.tensor([int(a)])))
            policy.rewards.append(1.0)
        loss = finish_episode()
        results.append((loss, policy.affine2.weight.detach().numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)
