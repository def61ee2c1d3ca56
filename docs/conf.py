"""Sphinx configuration of the sysid documentation.

Build: ``pip install -e ".[docs]"`` then ``sphinx-build -W -b html docs docs/_build/html``.
``SYSID_DOCS_GALLERY=short`` (default: a few quick examples are run), ``full`` (every example
with its default settings) or ``off`` (code only).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "_ext"))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))  # helpers the examples import
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sysid  # noqa: E402
import sysid_docs  # noqa: E402

project = "sysid"
author = "the sysid developers"
copyright = "2026, the sysid developers"
version = release = sysid.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "_gallery_src/*.py", "_gallery_src/README.rst", "**/__pycache__",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.json"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]
suppress_warnings = ["myst.header", "config.cache"]

# ---------------------------------------------------------------------------- API reference
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False
sysid_docs.write_api_pages(os.path.join(HERE, "api"))

# ---------------------------------------------------------------------------- gallery
sysid_docs.write_gallery_sources()
sphinx_gallery_conf = {
    "examples_dirs": [os.path.join(HERE, "_gallery_src")],
    "gallery_dirs": [os.path.join(HERE, "auto_examples")],
    "filename_pattern": sysid_docs.executed_pattern(),
    "ignore_pattern": r"__init__\.py$",
    "reset_argv": "sysid_docs.reset_argv",
    "image_scrapers": ("sysid_docs.png_scraper",),
    "download_all_examples": False,
    "plot_gallery": "True",
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "show_memory": False,
    "line_numbers": False,
    "min_reported_time": 1,
}

# ---------------------------------------------------------------------------- benchmark tables
sysid_docs.write_benchmark_tables(os.path.join(HERE, "_generated_benchmarks.md"))
exclude_patterns.append("_generated_benchmarks.md")

# ---------------------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"sysid {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
html_last_updated_fmt = None


def setup(app):
    # after numpydoc (priority 500) has turned the sections into reST
    app.connect("autodoc-process-docstring", sysid_docs.escape_docstring, priority=600)
