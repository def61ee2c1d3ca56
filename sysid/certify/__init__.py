"""LMI certificates for any model exported to a LureSystem (cvxpy + numpy; never torch).

Every function returns a :class:`Certificate`; "certified" is re-checked in numpy (largest
eigenvalue of the explicitly symmetrized LMI ≤ the recorded tolerance) before it is said.
Infeasible is an answer (``certified=False`` with the solver status), not an exception; a
missing or failing solver raises :class:`sysid.SolverError`. Discrete (``dt > 0``) and
continuous (``dt = 0``) time; a control.StateSpace is accepted wherever a LureSystem is.
See MATH.md §4 for the LMIs.
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
