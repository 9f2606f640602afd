"""Learned agents: PPO in PyTorch (:mod:`.ppo`), its networks (:mod:`.policy`), lockstep vectorised rollouts
(:mod:`.vector`), one typed config per run (:mod:`.config`), checkpoints loaded with ``weights_only=True``
(:mod:`.checkpoint`), evaluation against a reference strategy (:mod:`.evaluate`), whole runs as
``linkmech train`` does them (:mod:`.run`), exact best responses and the RLlib adapter.

Importing this package does not import ray.
"""
