"""Reproduction of every quantitative claim of both papers from the library (``linkmech reproduce``).

Each figure is a :class:`~linkmech.evaluation.reproduce.figures.Figure` computed by a function registered
with :func:`~linkmech.evaluation.reproduce.figures.figure_group`: exact fractions where the quantity is
exact (enumeration over type profiles), Monte Carlo with a 95% interval otherwise, the paper's printed value
(as text, since the PDF extraction garbles some) and whether they agree, with a note explaining any
disagreement from first principles. Modules: :mod:`.js` and :mod:`.js_collusion` (Jackson and
Sonnenschein 2007), :mod:`.zhu` (Zhu 2022), :mod:`.command` (the CLI: JSON, markdown, plots).
"""
