"""Sphinx configuration of skadv's documentation site."""

from importlib.metadata import version as _version

project = "skadv"
author = "The skadv developers"
copyright = "2026, the skadv developers"
release = _version("skadv")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_title = f"skadv {release}"

templates_path = ["_templates"]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# the type descriptions in docstrings are prose ("array-like of shape ..."), not links
numpydoc_xref_param_type = False

myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"^$",  # shown, not run here: tests/test_examples.py runs each one
    "plot_gallery": "False",
    "download_all_examples": False,
}
