"""The batched engine of the linked-voting variants: B independent episodes stepped in one call.

:class:`BatchedVariantEnv` runs the distribution-free ranked vote (``ranked_voting_v0``,
:class:`~linkmech.envs.ranked_voting_v0.RankedVotingEnv`) and Appendix 3's importance vote
(``importance_vote_v0``, :class:`~linkmech.envs.importance_vote_v0.ImportanceVoteEnv`). Both envs hold a
state of B episodes with a leading batch axis and step it with the SAME methods their PettingZoo interface
uses (``start_batch``, ``batch_observations``, ``check_actions``, ``apply_actions``): the mechanism functions
of :mod:`linkmech.mechanisms.variants` decide all B episodes in one call. The single env is the B = 1 view.

Seeding: ``reset(seeds)`` with a list gives episode b the generator ``numpy.random.default_rng(seeds[b])``,
exactly what the single env's ``reset(seed=seeds[b])`` uses, so for the same seeds and actions the
per-episode outcomes equal the single env's (tested). ``reset(seed)`` with one integer derives the B seeds
from it (:func:`linkmech.envs.batched.episode_seeds`); they are kept in ``seeds``.

Arrays: observations ``{agent: [B, D] float32}`` (layout: :meth:`BatchedVariantEnv.observation_fields`), masks
``{agent: [B, A] int8}``, actions ``{agent: [B] ints}`` or one ``[B, n]`` int array, rewards ``[B, n]``
float64. Every episode has the same number of steps (K for the ranked vote, 1 for the importance vote), so all
episodes end together; ``done`` is one bool. Infos are not built (they are per-episode Python dicts: use the
single env).
"""

from __future__ import annotations

from linkmech.envs.batched import BatchedEngine
from linkmech.envs.importance_vote_v0 import ImportanceVoteEnv
from linkmech.envs.ranked_voting_v0 import RankedVotingEnv

VariantEnv = RankedVotingEnv | ImportanceVoteEnv
"""The envs :class:`BatchedVariantEnv` runs."""


class BatchedVariantEnv(BatchedEngine):
    """B episodes of the ranked-voting or the importance-vote env.

    Args:
        env: ``"ranked_voting_v0"`` or ``"importance_vote_v0"`` (or their ids), or an instance of either env
            (its options are used, and its state is replaced by the B episodes).
        num_envs: B.
        **options: the env's options (when ``env`` is a name).
    """

    runs = (RankedVotingEnv, ImportanceVoteEnv)
    runs_text = (
        "it runs ranked_voting_v0 and importance_vote_v0; "
        "for the linking envs use BatchedLinkingEnv, for resource_allocation_v0 BatchedAllocationEnv"
    )
    env: VariantEnv
