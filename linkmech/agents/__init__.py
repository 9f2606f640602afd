"""Scripted agents that act from PettingZoo observations and action masks."""

from linkmech.agents.approximate_truth import ApproximatelyTruthful

__all__ = ["ApproximatelyTruthful"]
