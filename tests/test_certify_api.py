"""Certificate plumbing: solvers and their errors, the REN check helper, report(), layering."""
import subprocess
import sys

import control
import cvxpy as cp
import numpy as np
import pytest

from sysid import LureSystem, SolverError, certify, datasets
from sysid.certify import _lmi
from sysid.certify._ren_numpy import random_contracting_ren

G = control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)


def test_certify_never_imports_torch():
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ImportError('torch blocked')\n"
            "sys.meta_path.insert(0, Block())\n"
            "import sysid.certify as c, control\n"
            "print(c.contraction(control.ss([[0.5]], [[1.0]], [[1.0]], [[0.0]], 1.0)).certified)\n"
            "assert 'torch' not in sys.modules\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "True"


def test_unknown_solver_names_alternatives():
    with pytest.raises(SolverError, match=r"'NOT_A_SOLVER' is not installed.*Pass solver='CLARABEL'"):
        certify.contraction(G, solver="NOT_A_SOLVER")
    with pytest.raises(SolverError, match="not installed.*solver="):
        certify.incremental_l2_gain(G, solver="nope")
    with pytest.raises(TypeError, match="solver must be a solver name such as 'CVXOPT'.*got int"):
        certify.incremental_l2_gain(G, solver=3)


def test_failing_solver_is_not_certified_and_never_recommends_scs(monkeypatch):
    # a numerical breakdown (common at the edge of feasibility) is an answer, not an exception
    def boom(self, *a, **k):
        raise cp.error.SolverError("numerical trouble")

    monkeypatch.setattr(cp.Problem, "solve", boom)
    for c in (certify.lyapunov_stability(G, solver="CLARABEL"), certify.contraction(G, solver="CLARABEL"),
              certify.incremental_l2_gain(G, solver="CLARABEL"), certify.well_posedness(
                  LureSystem(A=[[0.5]], B1=[[0.1]], C1=[[1.0]], D11=[[0.5]], C2=[[1.0]], delta="tanh", dt=1.0))):
        assert not c.certified and c.status == "solver_error" and c.bound is None
        assert "CLARABEL failed numerically (SolverError: numerical trouble)" in c.message
        assert "SCS" not in c.message


def test_scs_is_available_as_an_option():
    c = certify.contraction(G, solver="scs")
    assert c.certified and c.solver == "SCS"


def test_optimal_inaccurate_is_a_failure():
    c = _lmi.finish("contraction", "optimal_inaccurate", "SCS", [_lmi.Strict(-np.eye(2), 1.0, 0.0)], bound=1.0)
    assert not c.certified and c.bound is None and "optimal_inaccurate" in c.message
    c = _lmi.finish("contraction", "optimal", "SCS", [_lmi.Strict(np.diag([1e-3, -1.0]), 1.0, 0.0)], bound=1.0)
    assert not c.certified and "re-check failed" in c.message and c.max_eig == pytest.approx(1e-3)


def test_check_ren_certificate():
    lure, (M, lam) = random_contracting_ren(3, 4, 2, 2, rate=0.9, seed=2)
    c = certify.check_ren_certificate(lure, M, lam, rate=0.9)
    assert c.certified and c.solver == "numpy" and c.max_eig <= c.tol
    assert certify.check_ren_certificate(lure, M, np.diag(lam), rate=0.9).certified
    # tampered multipliers or metric: rejected
    assert not certify.check_ren_certificate(lure, M, 0 * lam, rate=0.9).certified
    assert not certify.check_ren_certificate(lure, M, lam, rate=0.3).certified
    with pytest.raises(ValueError, match=r"M must have shape \(3, 3\)"):
        certify.check_ren_certificate(lure, np.eye(2), lam)
    with pytest.raises(ValueError, match="all of Q, S, R"):
        certify.check_ren_certificate(lure, M, lam, Q=-np.eye(2))
    with pytest.raises(ValueError, match="Lambda must be diagonal"):
        certify.check_ren_certificate(lure, M, np.ones((4, 4)))


def test_check_ren_certificate_qsr_agrees_with_gain():
    # Lipschitz-type IQC (Q = −I/γ, S = 0, R = γI) with γ the certified l2 gain and the LMI's own
    # storage: V⁺ − V ≤ γ|Δu|² − |Δy|²/γ holds with M = P/γ
    lure, _ = random_contracting_ren(2, 3, 1, 1, seed=4)
    g = certify.incremental_l2_gain(lure)
    gam = g.bound
    c = certify.check_ren_certificate(lure, g.P / gam, g.multipliers / gam, Q=-np.eye(1) / gam,
                                      S=np.zeros((1, 1)), R=gam * np.eye(1), rtol=1e-7)
    assert c.certified and c.property == "iqc_dissipation"
    c = certify.check_ren_certificate(lure, g.P / gam, g.multipliers / gam, Q=-np.eye(1) / gam,
                                      S=np.zeros((1, 1)), R=0.5 * gam * np.eye(1), rtol=1e-7)
    assert not c.certified


def test_report_statespace_and_lure():
    r = certify.report(G)
    assert [row["property"] for row in r.rows] == ["lyapunov_stability", "contraction", "incremental_l2_gain"]
    assert r["lyapunov_stability"].certified and r["incremental_l2_gain"].bound == pytest.approx(2, abs=1e-4)
    text = str(r)
    assert "incremental_l2_gain" in text and "global" in text
    lines = text.splitlines()[1:]
    assert len({line.index("certified") if i == 0 else None for i, line in enumerate(lines)}) >= 1
    assert all(line[len(lines[0].split("certified")[0]):].startswith(("certified", "yes", "no")) for line in lines)
    lure, _ = random_contracting_ren(3, 4, 1, 1, seed=1)
    r = certify.report(lure)
    assert [row["property"] for row in r.rows] == ["contraction", "incremental_l2_gain"]
    assert r["contraction"].certified and r.rows[0]["certified"] == "yes"
    dense = LureSystem(A=[[0.5]], B1=[[0.1]], C1=[[1.0]], D11=[[0.5]], B2=[[1.0]], C2=[[1.0]], delta="tanh", dt=1.0)
    assert certify.report(dense)["well_posedness"].certified
    with pytest.raises(KeyError, match="no 'monotone'"):
        r["monotone"]
    with pytest.raises(TypeError, match="report expects"):
        certify.report(np.eye(2))


class _LinearizedOnly:
    """A stand-in estimator with no exact Lur'e form (like an LSTM)."""

    def to_lure(self):
        raise NotImplementedError("no exact LFT")

    def linearize(self, *, x0=None, u0=None):
        return control.ss([[0.5, 0.1], [0.0, 0.3]], [[1.0], [0.0]], [[1.0, 0.0]], [[0.0]], 1.0)


def test_report_of_estimators_global_and_local():
    from sysid.estimators import N4SID

    d = datasets.fourth_order_plant(N=500)
    r = certify.report(N4SID(nx=4).fit(d.train))  # linear: exact Lur'e form, so global
    assert r["contraction"].certified and not r["contraction"].local
    r = certify.report(_LinearizedOnly())
    assert all(c.local and "local" in c.message for c in r.certificates)
    assert "linearized" in str(r) and "local" in str(r)
