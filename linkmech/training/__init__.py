"""Learned agents: PPO in PyTorch, best responses, the RLlib adapter.

Modules: :mod:`.ppo` (rollout, GAE, update, train), :mod:`.policy` (networks), :mod:`.vector` (lockstep
vectorised rollouts), :mod:`.config` (one typed config per run), :mod:`.checkpoint` (loaded with
``weights_only=True``), :mod:`.evaluate` (utility per problem against a reference strategy), :mod:`.run`
(whole runs as ``linkmech train`` does them). Importing this package does not import ray.
"""
