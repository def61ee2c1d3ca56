"""LMI certificates for any model exported to a LureSystem (cvxpy + numpy; never torch).

Every function returns a :class:`Certificate`; "certified" is re-checked in numpy (largest
eigenvalue of the explicitly symmetrized LMI) before it is said. Infeasible is an answer
(``certified=False`` with the solver status), not an exception.
"""

from ._gain import incremental_l2_gain, lipschitz
from ._lmi import Certificate
from ._ren import check_ren_certificate, random_contracting_ren
from ._report import Report, report
from ._stability import contraction, lyapunov_stability, monotone, smallest_rate, well_posedness

__all__ = ["Certificate", "lyapunov_stability", "contraction", "smallest_rate", "incremental_l2_gain",
           "well_posedness", "monotone", "lipschitz", "check_ren_certificate", "random_contracting_ren",
           "report", "Report"]
