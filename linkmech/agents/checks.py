"""Checks on an agent's announcements over one episode: lies, permutations and approximate truth.

Appendix 1's proof of Theorem 1 (Jackson and Sonnenschein, 2007) undoes any announcement that *permutes*
the agent's true types across some set of problems T (the announcements on T are a non-identity
rearrangement of the true types on T). Ball, Jackson and Kattwinkel (2022) take this as the definition: an
announcement vector is approximately truthful when it permutes no true types and makes the minimum number
of lies the quota allows.

Arguments are ``[K]`` type-index vectors (true and announced, one agent) and, where needed, the agent's
quota per type (``budget="type"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from linkmech.mechanisms.problem import IntArray


def _vectors(
    true: Sequence[int] | np.ndarray, announced: Sequence[int] | np.ndarray
) -> tuple[IntArray, IntArray]:
    t = np.asarray(true, dtype=np.int64).ravel()
    a = np.asarray(announced, dtype=np.int64).ravel()
    if t.shape != a.shape:
        raise ValueError(
            f"true and announced: got lengths {len(t)} and {len(a)}; give one entry per problem each"
        )
    if (t < 0).any() or (a < 0).any():
        raise ValueError("true and announced: give non-negative type indices")
    return t, a


def number_of_lies(true: Sequence[int] | np.ndarray, announced: Sequence[int] | np.ndarray) -> int:
    """Problems on which the announcement differs from the true type."""
    t, a = _vectors(true, announced)
    return int((t != a).sum())


def permutes_types(true: Sequence[int] | np.ndarray, announced: Sequence[int] | np.ndarray) -> bool:
    """Whether some set of problems has announcements that are a non-identity permutation of the true types.

    Equivalently, the lie graph (a directed multigraph with an edge true -> announced for each lie) has a
    cycle: the lies along a cycle are a permutation, and on any such set of problems the lies alone balance
    every type's in- and out-degree, so they contain a cycle. ``(a, b), (b, a)`` is a permutation.
    """
    t, a = _vectors(true, announced)
    lies = t != a
    edges = set(zip(t[lies].tolist(), a[lies].tolist()))
    # Kahn: repeatedly drop types with no incoming lie; a cycle is what survives
    while edges:
        targets = {b for _, b in edges}
        sources = {x for x, _ in edges if x not in targets}
        if not sources:
            return True
        edges = {(x, b) for x, b in edges if x not in sources}
    return False


def minimum_lies(true: Sequence[int] | np.ndarray, quota: Sequence[int] | np.ndarray) -> int:
    """The fewest lies any announcement meeting ``quota`` (counts per type) makes: sum of max(0, count - quota)."""
    t = np.asarray(true, dtype=np.int64).ravel()
    q = np.asarray(quota, dtype=np.int64).ravel()
    if (t < 0).any() or (len(t) and t.max() >= len(q)):
        raise ValueError(f"true: type indices must be in 0..{len(q) - 1} (one quota per type)")
    counts = np.bincount(t, minlength=len(q))
    return int(np.maximum(counts - q, 0).sum())


def is_approximately_truthful(
    true: Sequence[int] | np.ndarray, announced: Sequence[int] | np.ndarray, quota: Sequence[int] | np.ndarray
) -> bool:
    """Ball, Jackson and Kattwinkel (2022): no permutation of true types, and the minimum number of lies.

    Raises:
        ValueError: if ``announced`` does not meet ``quota`` (it is then no message of the mechanism).
    """
    t, a = _vectors(true, announced)
    q = np.asarray(quota, dtype=np.int64).ravel()
    if (len(a) and a.max() >= len(q)) or not np.array_equal(np.bincount(a, minlength=len(q)), q):
        raise ValueError(
            f"announced: counts {np.bincount(a, minlength=len(q)).tolist()} do not meet the quota {q.tolist()}"
        )
    return not permutes_types(t, a) and number_of_lies(t, a) == minimum_lies(t, q)
