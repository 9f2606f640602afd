"""Agents: one protocol (:class:`Strategy` reset with a :class:`Seat` and a generator) and a registry.

Importing this package registers every built-in strategy; :func:`make_strategy` builds one by name.
"""

from linkmech.agents.approximate_truth import ApproximatelyTruthful
from linkmech.agents.base import STRATEGIES, Seat, Strategy, make_strategy, register

__all__ = ["STRATEGIES", "ApproximatelyTruthful", "Seat", "Strategy", "make_strategy", "register"]
