"""Build helpers of the documentation (imported by conf.py; not part of the package).

* :func:`write_api_pages` — one page per public module listing every name of its ``__all__``
  (autosummary then gives every name its own page);
* :func:`write_gallery_sources` — the examples/ scripts with a sphinx-gallery title block, so
  the scripts themselves stay plain command-line programs;
* :func:`reset_argv` / :func:`png_scraper` — run each example with ``--out`` pointing at a
  build folder (and short options in the short mode) and collect the PNG files it writes;
* :func:`write_benchmark_tables` — markdown tables from benchmarks/results/*.json.
"""

from __future__ import annotations

import glob
import importlib
import json
import os
import re
import shutil
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.dirname(HERE)
REPO = os.path.dirname(DOCS)
GALLERY_SRC = os.path.join(DOCS, "_gallery_src")
GALLERY_OUT = os.path.join(DOCS, "_build", "gallery_out")

API_MODULES = [
    ("sysid", "The top-level namespace: data, the Lur'e core, compare and metrics."),
    ("sysid.datasets", "Simulated systems of the seed documents, benchmark loaders and file readers."),
    ("sysid.linear", "Classical identification: subspace (N4SID), ARX, prediction-error refinement."),
    ("sysid.estimators", "One estimator contract for linear and neural models."),
    ("sysid.models", "Torch modules the neural estimators train."),
    ("sysid.training", "The training engine shared by every torch model."),
    ("sysid.sweep", "Hyper-parameter and seed sweeps on local processes or Ray Tune."),
    ("sysid.solvers", "Fixed-point and ODE solvers."),
    ("sysid.certify", "LMI certificates: stability, contraction, incremental gain, well-posedness, LipSDP."),
    ("sysid.delta", "Static nonlinearities with their slope bounds."),
    ("sysid.metrics", "Fit %, NRMSE, RMSE and R² per output."),
    ("sysid.plot", "Figures (matplotlib)."),
    ("sysid.report", "Studies from a configuration file and their HTML reports."),
    ("sysid.cli", "The ``sysid`` command line (``sysid --help``)."),
    ("sysid.benchmarks", "The benchmark protocol and the published results."),
]

# examples executed in the short mode, with their short options; the others are shown as code
SHORT = {
    "pendulum.py": [],
    "closed_loop.py": [],
    "spiral_source.py": ["--epochs", "20"],
    "center.py": ["--epochs", "20"],
    "pendulum_neural.py": ["--epochs", "10"],
    "lstm_linear_system.py": ["--epochs", "5"],
}
# SYSID_DOCS_GALLERY=full runs every example (f16, pendulum_certified, implicit_vs_lstm too) with its defaults


def gallery_mode() -> str:
    mode = os.environ.get("SYSID_DOCS_GALLERY", "short")
    if mode not in ("short", "full", "off"):
        raise ValueError(f"SYSID_DOCS_GALLERY must be 'short', 'full' or 'off'; got {mode!r}.")
    return mode


def _submodules(mod) -> set:
    import types

    return {n for n in getattr(mod, "__all__", []) if isinstance(getattr(mod, n, None), types.ModuleType)}


def write_api_pages(out_dir: str) -> list[str]:
    """One reST page per public module, listing its ``__all__``; returns the page names."""
    os.makedirs(out_dir, exist_ok=True)
    pages = []
    for modname, blurb in API_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ImportError:  # an attribute module (sysid.metrics) or a subpackage that does not exist (yet)
            parent, _, child = modname.rpartition(".")
            mod = getattr(importlib.import_module(parent), child, None)
            if mod is None:
                continue
        names = [n for n in getattr(mod, "__all__", []) if n not in _submodules(mod)]
        title = f"``{modname}``"
        lines = [title, "=" * len(title), "", blurb, "", f".. currentmodule:: {mod.__name__}", ""]
        if names:
            lines += [".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
            lines += [f"   {n}" for n in names]
        listed = [s for s in sorted(_submodules(mod)) if any(m == f"{modname}.{s}" for m, _ in API_MODULES)]
        if listed:
            lines += ["", "Subpackages: " + ", ".join(f":doc:`{modname}.{s}`" for s in listed) + "."]
        text = "\n".join(lines) + "\n"
        path = os.path.join(out_dir, f"{modname}.rst")
        if not os.path.isfile(path) or open(path).read() != text:
            with open(path, "w") as fh:
                fh.write(text)
        pages.append(modname)
    index = ["API reference", "=============", "",
             "Every public name (each module's ``__all__``) has its own page.", "",
             ".. toctree::", "   :maxdepth: 1", ""] + [f"   {p}" for p in pages]
    with open(os.path.join(out_dir, "index.rst"), "w") as fh:
        fh.write("\n".join(index) + "\n")
    return pages


def _title_block(src: str, name: str) -> str:
    """The script with its module docstring turned into a sphinx-gallery title block."""
    m = re.match(r'\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', src, re.S)
    if not m:
        title, body, rest = name, "", src
    else:
        doc = m.group(1).strip().splitlines()
        if len(doc) > 1 and re.fullmatch(r"\s*([=\-~^#*])\1{3,}\s*", doc[1]):  # already a reST title
            doc = doc[:1] + doc[2:]
        title, body, rest = doc[0].strip(), "\n".join(doc[1:]).strip(), src[m.end():]
    title = title.rstrip(".")
    body = body.replace("\\", "\\\\")
    cmd = f"Run it: ``python examples/{name} --out out/``."
    header = f'"""\n{title}\n{"=" * len(title)}\n\n{body}\n\n{cmd}\n"""'
    original = os.path.join(REPO, "examples", name)
    import ast

    doc = ast.get_docstring(ast.parse(src)) or title
    hidden = (f"\n# sphinx_gallery_start_ignore\n__file__ = {original!r}  # the gallery runs a copy\n"
              f"__doc__ = {doc!r}\n# sphinx_gallery_end_ignore\n")
    fut = re.search(r"^from __future__ import [^\n]+\n", rest, re.M)
    if fut:  # __future__ imports must stay the first statement
        return header + rest[:fut.end()] + hidden + rest[fut.end():]
    return header + hidden + rest


def write_gallery_sources() -> None:
    """Copy examples/*.py into docs/_gallery_src with title blocks (and the helpers they import)."""
    if os.path.isdir(GALLERY_SRC):
        shutil.rmtree(GALLERY_SRC)
    os.makedirs(GALLERY_SRC)
    with open(os.path.join(GALLERY_SRC, "README.rst"), "w") as fh:
        fh.write("Examples\n========\n\nEach example is a script in ``examples/`` that saves its figures into "
                 "``--out`` (default ``out/``). The gallery runs them with short settings "
                 "(``SYSID_DOCS_GALLERY=full`` runs every example with its defaults).\n")
    for path in sorted(glob.glob(os.path.join(REPO, "examples", "*.py"))):
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as fh:
            src = fh.read()
        if name.startswith("_"):  # helpers: imported from examples/ (conf.py puts it on sys.path)
            continue
        with open(os.path.join(GALLERY_SRC, name), "w", encoding="utf-8") as fh:
            fh.write(_title_block(src, name))


def executed_pattern() -> str:
    mode = gallery_mode()
    if mode == "full":
        return r"/[^_/][^/]*\.py$"
    names = list(SHORT) if mode == "short" else []
    return r"/(" + "|".join(re.escape(n) for n in names) + r")$" if names else r"^$"


def _out_dir(src_file: str) -> str:
    return os.path.join(GALLERY_OUT, os.path.splitext(os.path.basename(src_file))[0])


_STARTED: dict[str, float] = {}


def reset_argv(gallery_conf, script_vars) -> list[str]:
    """Command-line arguments of an example: ``--out`` in the build folder, short options."""
    src = script_vars["src_file"]
    out = _out_dir(src)
    os.makedirs(out, exist_ok=True)
    name = os.path.basename(src)
    _STARTED[src] = time.time() - 1.0
    extra = SHORT.get(name, []) if gallery_mode() == "short" else []
    return ["--out", out, *extra]


def png_scraper(block, block_vars, gallery_conf, **kwargs):
    """Collect the PNG files an example wrote into its ``--out`` folder during this block."""
    from sphinx_gallery.scrapers import figure_rst

    src = block_vars["src_file"]
    out = _out_dir(src)
    start = _STARTED.get(src, 0.0)
    found = sorted(p for p in glob.glob(os.path.join(out, "*.png")) if os.path.getmtime(p) >= start)
    _STARTED[src] = time.time()
    paths = []
    for p, target in zip(found, block_vars["image_path_iterator"]):
        shutil.copyfile(p, target)
        paths.append(target)
    return figure_rst(paths, gallery_conf["src_dir"])


def write_benchmark_tables(path: str) -> None:
    """Markdown tables of benchmarks/results/*.json beside the published figures."""
    lines = []
    linear = os.path.join(REPO, "benchmarks", "results", "linear_baselines.json")
    if os.path.isfile(linear):
        with open(linear) as fh:
            doc = json.load(fh)
        by = {}
        for r in doc["results"]:
            for test, v in r["tests"].items():
                by.setdefault((r["benchmark"], test, v.get("unit", "")), []).append(
                    (r["model"], v["rmse"], v["fit_percent"], r.get("fit_seconds")))
        for (bench, test, unit), rows in by.items():
            lines += [f"### {bench} / {test}", "",
                      f"Free-run simulation on the test set; RMSE in {unit or 'the output unit'}.", "",
                      "| model | RMSE | fit % | fit time [s] |", "| --- | ---: | ---: | ---: |"]
            for model, rmse, fit, secs in sorted(rows, key=lambda r: sum(r[1]) / len(r[1])):
                secs = "–" if secs is None else f"{secs:.2f}"
                lines.append(f"| {model} | {', '.join(f'{v:.4g}' for v in rmse)} | "
                             f"{', '.join(f'{v:.1f}' for v in fit)} | {secs} |")
            pub = doc.get("published", {}).get(bench, {}).get(test, [])
            if pub:
                lines += ["", "Published results (same protocol):", "", "| model | RMSE | source |",
                          "| --- | ---: | --- |"]
                lines += [f"| {m} | {v:.4g} | {src} |" for m, v, src in pub]
            lines.append("")
    others = sorted(p for p in glob.glob(os.path.join(REPO, "benchmarks", "results", "*.json")) if p != linear)
    if others:
        lines += ["### Other result files", "",
                  "Written by the scripts in `benchmarks/` (see each script's docstring for the command):", ""]
        lines += [f"* `benchmarks/results/{os.path.basename(p)}`" for p in others]
    text = "\n".join(lines) + "\n"
    if not os.path.isfile(path) or open(path).read() != text:
        with open(path, "w") as fh:
            fh.write(text)


_CODE = re.compile(r"(``.+?``|`[^`]+`)")
_ABS = re.compile(r"(?<![\\|\w])\|(?=[^\s|])([^|\n]*?[^\s|\\])\|(?![|\w])")
_REF = re.compile(r"(?<=[A-Za-z0-9])_(?=[\s,.;:)\]]|$)")


def _escape_plain(text: str) -> str:
    text = _ABS.sub(lambda m: "\\|" + m.group(1) + "\\|", text)
    return _REF.sub(r"\\_", text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_docstring(app, what, name, obj, options, lines) -> None:
    """Keep plain-text docstrings valid reST.

    * ``|x|`` (absolute values, not substitutions) and ``name_`` (fitted attributes, not
      hyperlink references) stay literal outside inline code;
    * a "term" line followed by an indented description right after a paragraph line (a
      parameter list written without its ``Parameters`` heading) becomes a definition list
      instead of an "unexpected indentation" error.
    """
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("..", ":")) or "|" not in line and "_" not in line:
            continue
        parts = _CODE.split(line)
        lines[i] = "".join(p if k % 2 else _escape_plain(p) for k, p in enumerate(parts))
    i = 1
    while i < len(lines) - 1:
        prev, line, nxt = lines[i - 1], lines[i], lines[i + 1]
        if (prev.strip() and line.strip() and nxt.strip() and _indent(prev) == _indent(line) < _indent(nxt)
                and not prev.rstrip().endswith("::") and not line.lstrip().startswith(("..", ":", "*", "-", ">>>"))
                and not prev.lstrip().startswith((":", "*", "-", ">>>", "..")) and "``" not in line[:2]):
            lines.insert(i, "")
            i += 1
        i += 1
