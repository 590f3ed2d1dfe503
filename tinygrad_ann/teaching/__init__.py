"""The teaching part: the seed articles' derivations as code, and the demo.

:mod:`~tinygrad_ann.teaching.articles` writes each article's hand-derived
gradients as NumPy and compares them with autograd (also ``tg.articles``);
:mod:`~tinygrad_ann.teaching.demo` trains the articles' networks and draws them
(``python -m tinygrad_ann demo``). Neither is imported by ``import tinygrad_ann``.
"""
