"""Documentation: the docstrings' examples run (doctest), every public name gets an API page, every
example becomes a gallery page, the equations the docstrings cite exist, and (slow) the site builds
without warnings."""
import ast
import doctest
import importlib
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sysid

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import sysid_docs  # noqa: E402


def _with_examples(info) -> bool:
    """Modules whose source holds a docstring example (found without importing them)."""
    spec = info.module_finder.find_spec(info.name.rpartition(".")[2])
    return bool(spec and spec.origin and spec.origin.endswith(".py") and ">>> " in Path(spec.origin).read_text("utf-8"))


MODULES = sorted(m.name for m in pkgutil.walk_packages(sysid.__path__, "sysid.") if _with_examples(m))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    mod = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(mod, name) if t.examples]
    if not tests:  # e.g. a class "docstring" built by string concatenation is an expression, not __doc__
        pytest.skip(f"{name} has '>>> ' in its source but no docstring holds it (not a string literal?)")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for t in tests:
        runner.run(t, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def test_every_public_name_has_an_api_page(tmp_path):
    pages = sysid_docs.write_api_pages(str(tmp_path))
    text = {p: (tmp_path / f"{p}.rst").read_text() for p in pages}
    # every public subpackage of sysid has a page ...
    import types

    subs = {f"sysid.{n}" for n in sysid.__all__ if isinstance(getattr(sysid, n), types.ModuleType)}
    assert subs <= set(pages), f"no API page for {sorted(subs - set(pages))}: add them to API_MODULES"
    # ... and every name of every __all__ is listed for autosummary (which gives each its own page)
    for page in pages:
        mod = importlib.import_module(page) if page != "sysid.metrics" else sysid.metrics
        for name in mod.__all__:
            if isinstance(getattr(mod, name, None), types.ModuleType):
                continue
            assert re.search(rf"^   {re.escape(name)}$", text[page], re.M), f"{page}.{name} has no API entry"


def test_every_example_is_a_gallery_page(tmp_path, monkeypatch):
    monkeypatch.setattr(sysid_docs, "GALLERY_SRC", str(tmp_path / "gallery"))
    sysid_docs.write_gallery_sources()
    examples = sorted(p.name for p in (REPO / "examples").glob("*.py") if not p.name.startswith("_"))
    written = sorted(p.name for p in (tmp_path / "gallery").glob("*.py"))
    assert written == examples
    for name in written:
        src = (tmp_path / "gallery" / name).read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(src))  # still valid Python with a title block for sphinx-gallery
        title, underline = doc.splitlines()[:2]
        assert title and underline == "=" * len(title), name


def test_cited_equations_exist():
    """Docstrings cite the mathematical reference by section ("docs/math.md §4.2", "docs/math.md §4.2");
    every cited section must be a heading of docs/math.md."""
    math = (DOCS / "math.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[ .]", math, re.M))
    cited = set()
    for path in (REPO / "sysid").rglob("*.py"):
        for m in re.finditer(r"(?:MATH\.md|math\.md)((?:[ ,]*§\d+(?:\.\d+)?)+)", path.read_text(encoding="utf-8")):
            cited |= {(path.name, s) for s in re.findall(r"§(\d+(?:\.\d+)?)", m.group(1))}
    missing = sorted(c for c in cited if c[1] not in sections)
    assert not missing, f"cited sections absent from docs/math.md: {missing}"


def test_benchmark_tables(tmp_path):
    out = tmp_path / "bench.md"
    sysid_docs.write_benchmark_tables(str(out))
    text = out.read_text()
    if (REPO / "benchmarks" / "results" / "linear_baselines.json").is_file():
        assert "| model | RMSE | fit % | fit time [s] |" in text and "Published results" in text


@pytest.mark.slow
def test_sphinx_build_without_warnings(tmp_path):
    if shutil.which("sphinx-build") is None and not (Path(sys.executable).parent / "sphinx-build").is_file():
        pytest.skip('Sphinx is not installed (pip install -e ".[docs]")')
    exe = str(Path(sys.executable).parent / "sphinx-build")
    env = dict(os.environ, SYSID_DOCS_GALLERY="off")
    res = subprocess.run([exe, "-W", "--keep-going", "-q", "-E", "-b", "html", str(DOCS), str(tmp_path / "html")],
                         capture_output=True, text=True, env=env, timeout=1200)
    assert res.returncode == 0, res.stderr[-5000:]
    assert (tmp_path / "html" / "api" / "index.html").is_file()
