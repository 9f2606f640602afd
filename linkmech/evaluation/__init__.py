"""Running agents in environments and summarising what happens."""

from linkmech.evaluation.play import EpisodeResult, play_episode, seat_generators

__all__ = ["EpisodeResult", "play_episode", "seat_generators"]
