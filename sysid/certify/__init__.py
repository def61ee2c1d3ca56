"""LMI certificates for any model exported to a LureSystem (cvxpy + numpy; never torch).

Every function returns a :class:`Certificate`; "certified" is re-checked in float64 numpy
before it is said: the largest eigenvalue of the explicitly symmetrized LMI must be at most
minus the larger of half the strictness margin imposed on the solver and a bound on the
rounding error (``Certificate.tol`` < 0). Infeasible, a failed re-check and a solver that
breaks down numerically are answers (``certified=False`` with the reason), not exceptions;
only a missing solver raises :class:`sysid.SolverError`. SCS is never chosen automatically. Discrete (``dt > 0``) and
continuous (``dt = 0``) time; a control.StateSpace is accepted wherever a LureSystem is.
See docs/math.md §4 for the LMIs.
"""

from ._certificate import Certificate
from ._contraction import contraction, smallest_rate
from ._gain import incremental_l2_gain
from ._lipschitz import lipschitz
from ._lyapunov import lyapunov_stability
from ._ren import check_ren_certificate
from ._report import Report, report
from ._wellposed import monotone, well_posedness

__all__ = ["Certificate", "lyapunov_stability", "contraction", "smallest_rate", "incremental_l2_gain",
           "well_posedness", "monotone", "lipschitz", "check_ren_certificate", "report", "Report"]
