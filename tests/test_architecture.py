"""Layering rules: `import sysid` stays light; core/certify/linear never import torch."""
import subprocess
import sys

import pytest

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked}:
            raise ImportError('blocked for the architecture test: ' + name)
sys.meta_path.insert(0, Block())
"""


def run(code, blocked):
    src = BLOCK.format(blocked=repr(set(blocked))) + code
    return subprocess.run([sys.executable, "-c", src], capture_output=True, text=True)


@pytest.mark.parametrize("module, blocked", [
    ("sysid", ["torch", "cvxpy", "torchdiffeq"]),
    ("sysid.core", ["torch", "cvxpy"]),
    ("sysid.delta", ["torch", "cvxpy"]),
    ("sysid.linear", ["torch", "cvxpy"]),
    ("sysid.datasets", ["torch", "cvxpy"]),
    ("sysid.certify", ["torch"]),
    ("sysid.estimators", ["torch", "cvxpy"]),
])
def test_import_without_forbidden_packages(module, blocked):
    res = run(f"import {module}", blocked)
    assert res.returncode == 0, res.stderr


def test_only_plot_module_imports_matplotlib():
    # python-control itself imports matplotlib, so this is checked in the source instead
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1] / "sysid"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "plot.py" and p.name != "cli.py"
                 and re.search(r"^\s*(import|from) matplotlib", p.read_text(), re.M)]
    assert offenders == []


def test_import_sysid_does_not_load_torch():
    res = subprocess.run([sys.executable, "-c", "import sysid, sys; print('torch' in sys.modules)"],
                         capture_output=True, text=True)
    assert res.stdout.strip() == "False", res.stderr


def test_linear_estimators_do_not_need_torch():
    res = run("from sysid.estimators import N4SID, ARX", ["torch"])
    assert res.returncode == 0, res.stderr
