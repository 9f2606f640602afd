"""linkmech with other RL libraries: Stable-Baselines3 / sb3-contrib, TorchRL, Ray RLlib.

Tests of a library are skipped (``pytest.importorskip``) where it is not installed; the adapters' own checks
(imports without Ray, policy layouts, NumericInfos) need nothing optional. Install the libraries with the
torch pin: ``pip install -c constraints.txt stable-baselines3 sb3-contrib torchrl`` and
``pip install -c constraints.txt -e ".[ray]"``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import linkmech
from linkmech.envs.single_agent import SingleAgentEnv
from linkmech.envs.wrappers import NumericInfos
from linkmech.mechanisms import TabularProblem
from linkmech.training import rllib

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*Box (observation|action) space m.*:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*symmetric and normalized.*:UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

HAS_RAY = importlib.util.find_spec("ray") is not None


def _coin(announced: np.ndarray) -> np.ndarray:
    return np.full((len(announced), 2), 0.5)


def two_by_three() -> TabularProblem:
    """Agent 0 has two types, agent 1 three: the seats' spaces differ."""
    return TabularProblem(
        utilities=[[[0, 1], [1, 0]], [[0, 1], [1, 0], [0.5, 0.5]]],
        type_probs=[[0.5, 0.5], ["1/3", "1/3", "1/3"]],
        target=_coin,
    )


# --- adapters, nothing optional ----------------------------------------------------------------------------


@pytest.mark.skipif(HAS_RAY, reason="Ray is installed here")
def test_rllib_adapter_without_ray_says_how_to_install() -> None:
    hint = 'pip install -c constraints.txt -e ".[ray]"'
    with pytest.raises(ImportError, match=r"needs Ray RLlib") as caught:
        rllib.require_ray()
    assert hint in str(caught.value)
    with pytest.raises(ImportError, match="needs Ray RLlib"):
        rllib.rllib_env_creator("linked_voting_v0")
    with pytest.raises(ImportError, match="needs Ray RLlib"):
        rllib.ppo_config("linked_voting_v0")
    with pytest.raises(ImportError, match="needs Ray RLlib"):
        rllib.EnvCreator("linked_voting_v0")({})


def test_policy_layouts() -> None:
    per_seat = rllib.module_spaces("linked_public_goods_v0", {"num_problems": 4}, "per_seat")
    env = linkmech.make("linked_public_goods_v0", num_problems=4)
    assert list(per_seat) == ["agent_0", "agent_1", "agent_2"]
    assert per_seat["agent_1"] == (env.observation_space("agent_1"), env.action_space("agent_1"))
    shared = rllib.module_spaces("linked_public_goods_v0", {"num_problems": 4}, "shared")
    assert list(shared) == [rllib.SHARED_POLICY] and shared["shared"] == per_seat["agent_0"]
    assert rllib.seat_policy("agent_2", None) == "agent_2" and rllib.shared_policy("agent_2") == "shared"
    with pytest.raises(ValueError, match=r"policies: got 'both'; allowed are \('per_seat', 'shared'\)"):
        rllib.module_spaces("linked_voting_v0", None, "both")
    with pytest.raises(ValueError, match=r"seats \['agent_1'\] have other spaces.*use policies='per_seat'"):
        rllib.module_spaces("linked_problem_v0", {"problem": two_by_three()}, "shared")
    with pytest.raises(ValueError, match="known environments are"):
        rllib.module_spaces("NoSuchEnv-v0", None, "per_seat")
    with pytest.raises(ValueError, match=r"iterations: got 0; give an integer >= 1"):
        rllib.train("linked_voting_v0", 0)


def test_numeric_infos_keep_fixed_numeric_keys() -> None:
    plain = linkmech.make("linked_voting_v0", num_problems=4)
    wrapped = NumericInfos(linkmech.make("linked_voting_v0", num_problems=4), keys=("date", "utility"))
    observations, infos = wrapped.reset(seed=1)
    plain_observations, _ = plain.reset(seed=1)
    assert infos["agent_0"]["date"] == 0 and np.isnan(infos["agent_0"]["utility"]), "NaN where not reported"
    assert wrapped.agents == ["agent_0", "agent_1"] and wrapped.observation_fields("agent_0")
    step = 0
    while wrapped.agents:
        actions = {a: int(np.flatnonzero(observations[a]["action_mask"])[0]) for a in wrapped.agents}
        observations, rewards, _, _, infos = wrapped.step(actions)
        plain_observations, plain_rewards, _, _, plain_infos = plain.step(actions)
        step += 1
        assert rewards == plain_rewards
        assert np.array_equal(
            observations["agent_1"]["observation"], plain_observations["agent_1"]["observation"]
        )
        for agent in plain.possible_agents:
            assert infos[agent] == {"date": float(step), "utility": plain_infos[agent]["utility"]}
    assert step == 4 and wrapped.agents == []
    empty = NumericInfos(linkmech.make("linked_voting_v0", num_problems=4))
    assert empty.reset(seed=0)[1] == {"agent_0": {}, "agent_1": {}}
    bad = NumericInfos(linkmech.make("linked_voting_v0", num_problems=4), keys=("decision",))
    bad.reset(seed=0)
    with pytest.raises(ValueError, match=r"agent_0's info 'decision' is '[ab]' \(str\), not a number"):
        bad.step({"agent_0": 0, "agent_1": 0})
    with pytest.raises(ValueError, match="give a sequence of info keys"):
        NumericInfos(plain, keys="utility")
    with pytest.raises(ValueError, match="PettingZoo parallel env"):
        NumericInfos(linkmech.make("linked_voting_v0", aec=True))


# --- Stable-Baselines3 and sb3-contrib ---------------------------------------------------------------------


def test_maskable_ppo_trains_and_plays_with_masks() -> None:
    pytest.importorskip("sb3_contrib")
    from sb3_contrib import MaskablePPO

    env = SingleAgentEnv("linkmech/LinkedVoting-v0", num_problems=4)
    model = MaskablePPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0)
    model.learn(total_timesteps=128)
    for seed in range(3):
        observation, info = env.reset(seed=seed)
        actions = []
        while True:
            action, _ = model.predict(observation, action_masks=env.action_masks(), deterministic=True)
            assert info["action_mask"][int(action)] == 1, "the masked policy picks admissible types only"
            observation, _, terminated, truncated, info = env.step(action)
            actions.append(int(action))
            if terminated or truncated:
                break
        assert sorted(actions) == [0, 1, 2, 3], "K = 4, quota 1 per type: each type announced once"


def test_sb3_ppo_on_reports_and_on_unbudgeted_votes() -> None:
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env

    reports = SingleAgentEnv("resource_allocation_v0", num_agents=2, num_dates=3, action_high=4.0)
    check_env(reports)
    model = PPO("MlpPolicy", reports, n_steps=32, batch_size=16, n_epochs=1, seed=0)
    model.learn(total_timesteps=64)
    observation, _ = reports.reset(seed=0)
    action, _ = model.predict(observation, deterministic=True)
    assert reports.action_space.contains(action.astype(np.float32))
    votes = SingleAgentEnv("linked_voting_v0", num_problems=4, budget="none", opponents="truthful")
    check_env(votes)  # without a budget no action is ever masked: plain PPO needs no mask
    PPO("MlpPolicy", votes, n_steps=32, batch_size=16, n_epochs=1, seed=0).learn(total_timesteps=64)


def test_sb3_batched_vec_env_trains_with_masks_and_follows_the_vec_env_contract() -> None:
    pytest.importorskip("sb3_contrib")
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    from linkmech.envs.sb3_vec import BatchedVecEnv

    env = BatchedVecEnv("linked_voting_v0", num_envs=6, num_problems=4, seed=3)
    observations = env.reset()
    assert observations.shape == (6, env.observation_space.shape[0])
    assert env.env_method("action_masks")[0].dtype == bool and env.has_attr("action_masks")
    ended = 0
    for _ in range(8):  # two episodes of K = 4
        masks = env.action_masks()
        actions = np.array([np.flatnonzero(row)[0] for row in masks])  # lowest admissible type
        observations, rewards, dones, infos = env.step(actions)
        assert rewards.shape == (6,) and dones.dtype == bool
        if dones.any():
            ended += 1
            assert dones.all(), "every episode of an env has K steps"
            assert all(info["terminal_observation"].shape == observations.shape[1:] for info in infos)
    assert ended == 2
    twin = BatchedVecEnv("linked_voting_v0", num_envs=6, num_problems=4, seed=3)
    np.testing.assert_array_equal(
        twin.reset(), BatchedVecEnv("linked_voting_v0", 6, num_problems=4, seed=3).reset()
    )
    with pytest.raises(ValueError, match="mask allows"):
        twin.step(np.full(6, 7))
    with pytest.raises(NotImplementedError, match="action_masks"):
        twin.env_method("render")
    model = MaskablePPO("MlpPolicy", env, n_steps=8, batch_size=24, n_epochs=1, seed=0)
    model.learn(total_timesteps=96)  # an inadmissible action would raise: MaskablePPO read the masks
    reports = BatchedVecEnv("resource_allocation_v0", num_envs=4, num_agents=2, num_dates=3, action_high=4.0)
    PPO("MlpPolicy", reports, n_steps=6, batch_size=12, n_epochs=1, seed=0).learn(total_timesteps=48)


def test_gymnasium_make_vec_runs_the_batched_engine() -> None:
    import gymnasium

    from linkmech.envs.gym_vector import BatchedGymVectorEnv

    vec = gymnasium.make_vec("linkmech/LinkedVoting-single-v0", num_envs=5, num_problems=4)
    assert isinstance(vec, BatchedGymVectorEnv) and vec.observation_space.shape == (5, 16)
    observations, infos = vec.reset(seed=2)
    again, _ = gymnasium.make_vec("linkmech/LinkedVoting-single-v0", num_envs=5, num_problems=4).reset(seed=2)
    np.testing.assert_array_equal(observations, again)
    rng, ended = np.random.default_rng(0), 0
    for _ in range(8):
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in infos["action_mask"]])
        observations, rewards, terminations, truncations, infos = vec.step(actions)
        assert rewards.shape == (5,) and not truncations.any()
        if terminations.any():
            ended += 1
            assert terminations.all() and infos["_final_obs"].all()
            assert all(final.shape == (16,) for final in infos["final_obs"])
    assert ended == 2
    _, _, _, _, infos = vec.step(np.zeros(5, dtype=np.int64))  # type 0 announced: its quota of 1 is spent
    assert (infos["action_mask"][:, 0] == 0).all()
    with pytest.raises(ValueError, match="mask allows"):
        vec.step(np.zeros(5, dtype=np.int64))
    with pytest.raises(ValueError, match="expected an element of"):
        vec.step(np.full(5, 7))
    copies = gymnasium.make_vec(
        "linkmech/LinkedVoting-single-v0", num_envs=2, vectorization_mode="sync", num_problems=4
    )
    assert type(copies).__name__ == "SyncVectorEnv"
    reports = gymnasium.make_vec(
        "linkmech/ResourceAllocation-single-v0", num_envs=3, num_agents=2, num_dates=3, action_high=4.0
    )
    reports.reset(seed=1)
    _, rewards, _, _, infos = reports.step(np.ones((3, 1), dtype=np.float32))
    assert rewards.shape == (3,) and "action_mask" not in infos


# --- TorchRL -----------------------------------------------------------------------------------------------


def test_torchrl_pettingzoo_wrapper_with_numeric_infos() -> None:
    pytest.importorskip("torchrl")
    from torchrl.envs.utils import check_env_specs

    from linkmech.envs.wrappers import torchrl_env

    env = torchrl_env("linkmech/LinkedVoting-v0", num_problems=4, seed=0, info_keys=("utility",))
    check_env_specs(env)
    rollout = env.rollout(10)
    assert rollout["next", "agent", "reward"].shape == (4, 2, 1), "stops after K = 4 steps"
    actions = rollout["agent", "action"].squeeze(-1)
    masks = rollout["agent", "action_mask"]
    assert masks.gather(-1, actions.unsqueeze(-1)).all(), "random actions respect the mask"
    assert sorted(actions[:, 0].tolist()) == [0, 1, 2, 3], "quota 1 per type"
    rewards = rollout["next", "agent", "reward"].squeeze(-1)
    utilities = rollout["next", "agent", "info", "utility"]
    assert np.allclose(rewards.numpy(), utilities.numpy()), "over time, the reward is the date's utility"


# --- Ray RLlib ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    pytest.importorskip("ray.rllib")
    ray = rllib.init_ray(num_cpus=2)
    yield ray
    ray.shutdown()


SMOKE: dict[str, Any] = {"train_batch_size": 64, "minibatch_size": 32, "num_epochs": 1}


def test_rllib_per_seat_ppo_smoke(local_ray: Any) -> None:
    """One iteration of multi-agent PPO, a policy per seat, on linked voting with K = 4.

    With K = 4 and four types each type may be announced once: an unmasked policy would send an exhausted
    type in almost every episode (the env raises), so a finished iteration means the masks were applied.
    """
    results = rllib.train("linked_voting_v0", 1, seed=0, options={"num_problems": 4}, **SMOKE)
    again = rllib.train("linked_voting_v0", 1, seed=0, options={"num_problems": 4}, **SMOKE)
    runners = results[0]["env_runners"]
    assert runners["num_env_steps_sampled"] == 64 and runners["num_episodes"] == 16
    returns = runners["agent_episode_returns_mean"]
    assert sorted(returns) == ["agent_0", "agent_1"] and all(-8 <= r <= 8 for r in returns.values())
    assert again[0]["env_runners"]["agent_episode_returns_mean"] == returns, "same seed, same samples"
    assert {"agent_0", "agent_1"} <= set(results[0]["learners"])
    assert np.isfinite(results[0]["learners"]["agent_0"]["policy_loss"])


def test_rllib_shared_policy_masks_logits(local_ray: Any) -> None:
    import torch

    config = rllib.ppo_config("linked_public_goods_v0", {"num_problems": 3}, "shared", **SMOKE)
    algorithm = config.build_algo() if hasattr(config, "build_algo") else config.build()
    try:
        result = algorithm.train()
        assert set(result["env_runners"]["num_module_steps_sampled"]) == {"shared"}
        assert sorted(result["env_runners"]["agent_episode_returns_mean"]) == [
            "agent_0",
            "agent_1",
            "agent_2",
        ]
        module = algorithm.get_module("shared")
        size = linkmech.make("linked_public_goods_v0", num_problems=3).observation_space("agent_0")
        observation = torch.zeros((2, size["observation"].shape[0]))
        mask = torch.tensor([[1, 0], [0, 1]], dtype=torch.int8)
        logits = module.forward_inference({"obs": {"observation": observation, "action_mask": mask}})
        logits = logits["action_dist_inputs"]
        assert (logits[mask == 0] < -1e30).all() and (logits[mask == 1] > -1e3).all()
    finally:
        algorithm.stop()


def test_rllib_env_creator_registers_an_rllib_env(local_ray: Any) -> None:
    from ray.tune.registry import ENV_CREATOR, _global_registry

    name = rllib.rllib_env_creator("linked_bargaining_v0", register_as="bargaining-k3", num_problems=3)
    assert name == "bargaining-k3"
    env = _global_registry.get(ENV_CREATOR, name)({"form": "all_at_once"})
    observations, _ = env.reset(seed=0)
    assert sorted(observations) == ["agent_0", "agent_1"]
    assert env.par_env.options.num_problems == 3 and env.par_env.options.form == "all_at_once"
