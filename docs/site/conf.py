"""Sphinx configuration of the documentation site (``make docs`` -> build/site/).

scripts/build_docs.py stages the sources (README, docs/, the executed notebooks, these
reference pages) into build/docs-src/ and runs Sphinx there with warnings as errors
and nitpicky references: a broken link, a reference to nothing or an undocumented
public name fails the build.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "tinygrad_ann"
author = "tinygrad_ann contributors"
copyright = "the tinygrad_ann contributors, MIT licence"  # noqa: A001 - the name Sphinx reads

extensions = ["myst_nb", "sphinx.ext.autodoc", "public_api"]

root_doc = "index"
exclude_patterns = ["README.md", "**/.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# Markdown: headings get anchors so the pages' "#section" links resolve, and are checked.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

# The notebooks arrive executed by scripts/run_notebooks.py (a real kernel, under its
# checks); rendering them must not run them again.
nb_execution_mode = "off"
nb_output_stderr = "error"

# The API reference: signatures with their types, the docstrings' reStructuredText.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
add_module_names = False
nitpicky = True
# Types from outside the package: Sphinx has no inventory of NumPy's or Python's names
# without the network, so references to them are not checked; the package's own are.
nitpick_ignore_regex = [
    ("py:.*", r"(numpy|np|npt|typing|collections|os|pathlib|contextlib|types|builtins)\..*"),
    ("py:.*", r"(graphviz|matplotlib|hypothesis)(\..*)?"),
    ("py:.*", r"(Axes|Figure|SearchStrategy|Digraph)"),
    # A TypeVar ("the module's own type", so chained calls keep it) is not a class to link.
    ("py:class", r"tinygrad_ann\.nn\.module_editing\.Edited"),
    ("py:.*", r"(int|float|str|bool|bytes|object|tuple|list|dict|set|type|slice|complex)"),
    ("py:.*", r"(None|Any|Callable|Iterable|Iterator|Sequence|Mapping|Generator|Literal)"),
    ("py:.*", r"(ArrayLike|DTypeLike|NDArray|Path|PathLike|Self|TypeVar|ndarray|dtype)"),
]

html_theme = "furo"
html_title = "tinygrad_ann"
html_static_path: list[str] = []
# Drawn by scripts/build_docs.py: the explainer page and a graph SVG, at the site root.
html_extra_path = [str(Path(__file__).resolve().parents[2] / "build" / "docs-src" / "_extra")]
html_show_sourcelink = False
html_copy_source = False
# Without an icon of its own every page makes the browser ask for /favicon.ico (a 404).
html_favicon = "favicon.svg"
