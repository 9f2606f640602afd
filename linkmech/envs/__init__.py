"""linkmech's PettingZoo environments and their registry.

Importing :mod:`linkmech` registers every environment below in PettingZoo's registry under
``linkmech/<Name>-v0``, for both ``pettingzoo.make("parallel", ...)`` and ``pettingzoo.make("aec", ...)``.
:func:`make` is a shortcut accepting either the registered id or the module name (``linked_voting_v0``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pettingzoo

NAMESPACE = "linkmech"


@dataclass(frozen=True)
class EnvEntry:
    """One registered environment: its PettingZoo id, module and a one-line summary."""

    id: str
    module: str
    summary: str

    @property
    def module_path(self) -> str:
        """Import path of the env's module."""
        return f"linkmech.envs.{self.module}"


ENVIRONMENTS: tuple[EnvEntry, ...] = (
    EnvEntry(
        "linkmech/LinkedVoting-v0", "linked_voting_v0", "Example 1: K linked binary votes, values {-2,-1,1,2}"
    ),
    EnvEntry(
        "linkmech/LinkedPublicGoods-v0",
        "linked_public_goods_v0",
        "Examples 2 and 4: n agents, K projects of cost 3/4",
    ),
    EnvEntry(
        "linkmech/LinkedBargaining-v0",
        "linked_bargaining_v0",
        "Example 3: seller {0,8}, buyer {10,2}, midpoint price",
    ),
    EnvEntry(
        "linkmech/LinkedAllocation-v0",
        "linked_allocation_v0",
        "Example 5: one object per problem, values {1,10}",
    ),
    EnvEntry("linkmech/LinkedProblem-v0", "linked_problem_v0", "Theorem 1 on any user-defined FiniteProblem"),
    EnvEntry(
        "linkmech/RankedVoting-v0",
        "ranked_voting_v0",
        "Section 5: vote and rank the K problems (no P needed)",
    ),
    EnvEntry(
        "linkmech/ImportanceVote-v0", "importance_vote_v0", "Appendix 3: two votes and which matters more"
    ),
    EnvEntry(
        "linkmech/ResourceAllocation-v0",
        "resource_allocation_v0",
        "Zhu (2022): repeated resource allocation, unlinked or linked VCG over Omega*",
    ),
)
"""Every environment linkmech registers."""


def register_all() -> None:
    """Register every environment (AEC and parallel) in PettingZoo's registry; safe to call again."""
    for entry in ENVIRONMENTS:
        if entry.id not in pettingzoo.aec_registry:
            pettingzoo.register("aec", entry.id, entry_point=f"{entry.module_path}:env")
        if entry.id not in pettingzoo.parallel_registry:
            pettingzoo.register("parallel", entry.id, entry_point=f"{entry.module_path}:parallel_env")


def find(name: str) -> EnvEntry:
    """The entry for a registered id (``linkmech/LinkedVoting-v0``) or module name (``linked_voting_v0``)."""
    for entry in ENVIRONMENTS:
        if name in (entry.id, entry.module, entry.id.split("/", 1)[1]):
            return entry
    known = ", ".join(e.id for e in ENVIRONMENTS)
    names = [n for e in ENVIRONMENTS for n in (e.id, e.module)]
    raise ValueError(f"environment: got {name!r}{did_you_mean(name, names)}; known environments are {known}")


def did_you_mean(name: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    import difflib

    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def make(name: str, *, aec: bool = False, **kwargs: Any) -> Any:
    """Create an environment by id or module name: the parallel env, or the AEC env with ``aec=True``."""
    entry = find(name)
    module = importlib.import_module(entry.module_path)
    allowed = env_options(entry.id)
    unknown = [key for key in kwargs if allowed and key not in allowed and key != "render_mode"]
    if unknown:
        hints = "".join(did_you_mean(key, list(allowed)) for key in unknown)
        raise ValueError(f"{entry.id}: unknown options {unknown}{hints}; its options are {list(allowed)}")
    return module.env(**kwargs) if aec else module.parallel_env(**kwargs)


def env_options(name: str) -> dict[str, Any]:
    """The keyword options of an environment with their defaults (``inspect.Parameter.empty`` if none)."""
    import inspect

    entry = find(name)
    module = importlib.import_module(entry.module_path)
    target = getattr(module, "OPTIONS_OF", None) or _env_class(module)
    if target is None:
        return {}
    parameters = inspect.signature(target).parameters.values()
    options = {
        p.name: p.default
        for p in parameters
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("self", "render_mode")
    }
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        import dataclasses

        from linkmech.envs.linking_env import LinkingEnv, LinkingOptions

        if isinstance(target, type) and issubclass(target, LinkingEnv):
            options.update({f.name: f.default for f in dataclasses.fields(LinkingOptions)})
        else:
            return {}  # unknown keyword options: let the constructor judge them
    return options


def _env_class(module: Any) -> Any:
    """The parallel env class a module's ``parallel_env`` builds (the class holding the options)."""
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, pettingzoo.ParallelEnv)
            and value.__module__ == module.__name__
        ):
            return value
    return None


register_all()


# Gymnasium single-agent ids (linkmech/<Name>-single-v0): one seat learns, the others scripted
from linkmech.envs import single_agent as single_agent  # noqa: E402
