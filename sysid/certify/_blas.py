"""One BLAS thread for the structure paths (first-order search, Riccati and Lyapunov equations).

These paths make thousands of BLAS/LAPACK calls on matrices of size 50–300. At that size a
second BLAS thread buys little on an idle machine, and on a busy one it costs a great deal: the
threads of each call wait for one another, and a 2-thread OpenBLAS made the gain at
nx = nv = 32 take 31 s instead of 1.4 s under a load average of 5 on two cores. The limit is
lifted again on exit (it is process-wide while it holds: BLAS work in other Python threads runs
on one thread meanwhile); without threadpoolctl it is a no-op. Libraries loaded only after the
first use (usually CVXOPT's own OpenBLAS) are not limited.
"""

from __future__ import annotations

import contextlib
import functools
import importlib

__all__ = ["one_blas_thread"]


_CONTROLLER = []  # one threadpoolctl controller, made on first use (listing the libraries costs ~4 ms)


def _controller():
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _CONTROLLER.append(None)
        else:
            importlib.import_module("scipy.linalg")  # scipy's own BLAS must be loaded to be listed
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@contextlib.contextmanager
def _limit():
    c = _controller()
    if c is None:  # pragma: no cover
        yield
        return
    with c.limit(limits=1, user_api="blas"):
        yield


def one_blas_thread(f):
    """Decorator: run ``f`` with the BLAS libraries limited to one thread (restored after)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        with _limit():
            return f(*args, **kwargs)

    return wrapper
