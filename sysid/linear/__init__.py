"""Classical identification (numpy / scipy / python-control only): N4SID, ARX, and the
prediction-error method for state-space (``pem``) and polynomial (``oe``, ``armax``, ``bj``) models."""

from ._arx import ARXResult, arx
from ._n4sid import IdentificationWarning, N4SIDResult, n4sid
from ._pem import PEMResult, pem
from ._polynomial import PolynomialResult, armax, bj, oe

__all__ = ["n4sid", "N4SIDResult", "arx", "ARXResult", "pem", "PEMResult", "oe", "armax", "bj", "PolynomialResult",
           "IdentificationWarning"]
