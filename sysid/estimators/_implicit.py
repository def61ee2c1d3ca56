"""The implicit (equilibrium) time-series model: a NARX regression through a fixed point.

For each time t a window of lagged signals is the regressor

    φ_t = [u(t − nk), …, u(t − nk − nb + 1), y(t − 1), …, y(t − na)]     (length nb·nu + na·ny)

and the model is (normalized units)

    x_t = σ(W x_t + U φ_t + b),     ŷ_t = C x_t + D φ_t + c,

with W well posed by construction: ``weight="contractive"`` (‖W‖₂ ≤ γ < 1, so the plain
iteration contracts and sym(I − W) ⪰ (1 − γ)I) or ``weight="monotone"`` (the monDEQ
parameterization W = (1 − m)I − AᵀA + S − Sᵀ, solved by Peaceman–Rachford splitting). An
optional LoRA term 0.1·PQᵀ of rank r corrects W inside the parameterization, so it keeps the
guarantee. The regressor is built from data (one-step-ahead prediction, ``predict``) or from
the model's own past outputs (free-run simulation, ``simulate``); the model is exactly a
Lur'e system whose state is the window (:meth:`Implicit.to_lure`), with D11 = W.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.iodata import IOData
from ..core.lure import LureSystem
from ._base import BaseEstimator, check_int, check_positive

__all__ = ["Implicit", "InferenceReport"]

_SOLVERS = ("anderson", "picard", "broyden")


@dataclass
class InferenceReport:
    """Fixed-point work of one call of ``predict`` / ``simulate`` / ``predict_one_step``.

    Attributes
    ----------
    method : str
    iterations : ndarray of int, shape (n_inferences,)
        Solver iterations of every inference (every regression row / time step).
    converged : bool
    """

    method: str
    iterations: np.ndarray
    converged: bool

    @property
    def mean_iterations(self) -> float:
        return float(np.mean(self.iterations)) if len(self.iterations) else 0.0

    @property
    def max_iterations(self) -> int:
        return int(np.max(self.iterations)) if len(self.iterations) else 0


class Implicit(BaseEstimator):
    """Implicit (equilibrium) NARX model y_t = C x_t + D φ_t, x_t = σ(W x_t + U φ_t + b).

    Parameters
    ----------
    nx : int
        Size of the equilibrium state x.
    na : int
        Output lags in the window (0: input-driven model; > 0: forecasting from past outputs).
    nb : int
        Input lags in the window (ignored without inputs).
    nk : int
        Input delay (0: the current input enters).
    sigma : {"tanh", "relu"}
    weight : {"contractive", "monotone"}
        Well-posed parameterization of W (see the module docstring).
    gamma : float
        Bound ‖W‖₂ ≤ γ of the contractive parameterization, in (0, 1).
    m : float
        Monotonicity margin of the monotone parameterization (> 0).
    lora_rank : int
        Rank of the LoRA correction 0.1·PQᵀ of W (0: none).
    feedthrough : bool
        Include the direct term D φ_t (the "external" force; without it y = C x).
    baseline : {"auto", "last", None}
        ``"auto"``: ``"last"`` when na >= 1, else None. ``"last"`` (needs na >= 1): the model adds to the last value, y_t = y_{t−1} + C x_t +
        D φ_t (+ c), and is trained on the normalized increments, so it starts from the
        persistence forecast and is judged by what it adds to it. The persistence term is a
        fixed part of D (the Lur'e export contains it). ``None``: y_t = C x_t + D φ_t + c.
    solver : {"anderson", "picard", "broyden"}
        Fixed-point solver for training and inference (for ``weight="monotone"`` it runs the
        Peaceman–Rachford splitting: picard = plain splitting, anderson = accelerated).
    tol : float
        Absolute and relative tolerance of the fixed point (normalized units).
    max_iter : int
    epochs, lr, batch_size : training by Adam on minibatches (mean squared one-step error in
        normalized units).
    val_fraction : float
        Without ``val=``, the last fraction of the training rows (chronological) is held out
        for early stopping.
    patience : int
        Epochs without improvement of the validation error before stopping; the best
        weights are restored.
    weight_decay : float
    seed : int or None
    dtype : {"float64", "float32"}

    Attributes
    ----------
    nu_, ny_, dt_ : int, int, float
    lag_ : int
        Samples of history a window needs (max(na, nk + nb − 1)).
    history_ : dict
        Training and validation losses per epoch, ``best_epoch``.
    last_inference_ : InferenceReport
        Iterations per inference of the latest prediction or simulation.

    Examples
    --------
    >>> import numpy as np
    >>> from sysid import IOData
    >>> y = np.sin(0.3 * np.arange(200))[:, None]
    >>> est = Implicit(nx=4, na=3, epochs=5, seed=0).fit(IOData(None, y, dt=1.0))
    >>> est.predict(IOData(None, y, dt=1.0), horizon=1).shape
    (200, 1)
    """

    def __init__(self, nx: int = 16, *, na: int = 5, nb: int = 5, nk: int = 0, sigma: str = "tanh",
                 weight: str = "contractive", gamma: float = 0.9, m: float = 0.1, lora_rank: int = 0,
                 feedthrough: bool = True, baseline: str | None = "auto", solver: str = "anderson",
                 tol: float = 1e-6, max_iter: int = 200,
                 epochs: int = 100, lr: float = 5e-3, batch_size: int = 256, val_fraction: float = 0.2,
                 patience: int = 20, weight_decay: float = 0.0, seed: int | None = 0, dtype: str = "float64"):
        self.nx, self.na, self.nb, self.nk = nx, na, nb, nk
        self.sigma, self.weight, self.gamma, self.m, self.lora_rank = sigma, weight, gamma, m, lora_rank
        self.feedthrough, self.baseline = feedthrough, baseline
        self.solver, self.tol, self.max_iter = solver, tol, max_iter
        self.epochs, self.lr, self.batch_size, self.val_fraction = epochs, lr, batch_size, val_fraction
        self.patience, self.weight_decay, self.seed, self.dtype = patience, weight_decay, seed, dtype

    # ------------------------------------------------------------------ validation and windows
    def _validate(self) -> None:
        own = "Implicit"
        check_int(self.nx, "nx", own)
        check_int(self.na, "na", own, minimum=0)
        check_int(self.nb, "nb", own, minimum=0)
        check_int(self.nk, "nk", own, minimum=0)
        check_int(self.lora_rank, "lora_rank", own, minimum=0)
        check_int(self.max_iter, "max_iter", own)
        check_int(self.epochs, "epochs", own, minimum=0)
        check_int(self.batch_size, "batch_size", own)
        check_int(self.patience, "patience", own)
        check_positive(self.lr, "lr", own)
        check_positive(self.tol, "tol", own)
        check_positive(self.weight_decay, "weight_decay", own, strict=False)
        if self.sigma not in ("tanh", "relu"):
            raise ValueError(f"The 'sigma' parameter of Implicit must be 'tanh' or 'relu'. Got {self.sigma!r} instead.")
        if self.weight not in ("contractive", "monotone"):
            raise ValueError("The 'weight' parameter of Implicit must be 'contractive' or 'monotone'. "
                             f"Got {self.weight!r} instead.")
        if self.solver not in _SOLVERS:
            raise ValueError(f"The 'solver' parameter of Implicit must be one of {_SOLVERS}. Got {self.solver!r} instead.")
        if not (isinstance(self.gamma, (int, float)) and 0 < self.gamma < 1):
            raise ValueError(f"The 'gamma' parameter of Implicit must be in (0, 1). Got {self.gamma!r} instead.")
        check_positive(self.m, "m", own)
        if not (isinstance(self.val_fraction, (int, float)) and 0 <= self.val_fraction < 1):
            raise ValueError(f"The 'val_fraction' parameter of Implicit must be in [0, 1). Got {self.val_fraction!r} "
                             "instead.")
        if self.baseline not in ("auto", "last", None):
            raise ValueError("The 'baseline' parameter of Implicit must be 'auto', 'last' or None. "
                             f"Got {self.baseline!r} instead.")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"The 'dtype' parameter of Implicit must be 'float64' or 'float32'. Got {self.dtype!r} "
                             "instead.")

    def _lag(self, nu: int) -> int:
        nb = self.nb if nu else 0
        return max(self.na, self.nk + nb - 1 if nb else 0)

    def _n_regressors(self, nu: int, ny: int) -> int:
        return (self.nb if nu else 0) * nu + self.na * ny

    @staticmethod
    def _pad(sig: np.ndarray, lag: int) -> np.ndarray:
        """Prepend ``lag`` copies of the first sample (the record is taken to start at rest)."""
        return np.vstack([np.repeat(sig[:1], lag, axis=0), sig]) if lag and len(sig) else sig

    def _windows(self, u: np.ndarray, y: np.ndarray, *, pad: bool) -> np.ndarray:
        """Regressors φ_t, shape (rows, n_regressors): t = lag … N−1, or every t with ``pad``."""
        nu = u.shape[1]
        lag = self._lag(nu)
        if pad:
            u, y = self._pad(u, lag), self._pad(y, lag)
        N = y.shape[0]
        t = np.arange(lag, N)
        cols = []
        if nu and self.nb:
            for j in range(self.nb):
                cols.append(u[t - self.nk - j])
        for i in range(1, self.na + 1):
            cols.append(y[t - i])
        return np.hstack(cols) if cols else np.zeros((len(t), 0))

    def _rows(self, exps) -> tuple[np.ndarray, np.ndarray]:
        X, Y = [], []
        lag = self._lag(exps[0].nu)
        for d in exps:
            X.append(self._windows(d.u, d.y, pad=False))
            Y.append(d.y[lag:] - (d.y[lag - 1:-1] if self._uses_baseline else 0.0))
        return np.vstack(X), np.vstack(Y)

    @property
    def _uses_baseline(self) -> bool:
        return self.baseline in ("last", "auto") and self.na >= 1

    def _last_in_window(self, phi: np.ndarray) -> np.ndarray:
        """y(t − 1) read from the regressor rows (the first output lag), shape (rows, ny)."""
        o = (self.nb if self.nu_ else 0) * self.nu_
        return phi[:, o:o + self.ny_]

    # ------------------------------------------------------------------ torch model
    def _module(self, n_in: int, ny: int):
        import torch
        from torch import nn

        from ..models.deq import DEQModule, IFT
        from ..solvers import Anderson, Broyden, Picard

        dtype = torch.float64 if self.dtype == "float64" else torch.float32
        gen_seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        torch.manual_seed(gen_seed)
        tol = dict(atol=self.tol, rtol=self.tol, max_iter=self.max_iter)
        if self.weight == "monotone":
            tol["max_iter"] = max(self.max_iter, 2000)
        solver = {"anderson": Anderson(m=5, **tol), "picard": Picard(**tol), "broyden": Broyden(**tol)}[self.solver]
        monotone = self.weight == "monotone"
        deq = DEQModule(self.nx, max(n_in, 1), sigma=self.sigma, weight=self.weight, gamma=self.gamma, m=self.m,
                        lora_rank=self.lora_rank, solver=solver, splitting="pr" if monotone else None,
                        backward=IFT(direct=True) if monotone else IFT(), dtype=dtype, seed=gen_seed)

        class Regressor(nn.Module):
            def __init__(self):
                super().__init__()
                self.deq = deq
                self.C = nn.Linear(deq.n, ny, dtype=dtype)
                self.D = nn.Linear(max(n_in, 1), ny, bias=False, dtype=dtype)
                with torch.no_grad():  # start from the baseline (persistence or the mean)
                    self.D.weight.zero_()
                if n_in == 0 or not feedthrough:
                    self.D.weight.requires_grad_(False)

            def forward(self, phi):
                return self.C(self.deq(phi)) + self.D(phi)

        feedthrough = self.feedthrough
        return Regressor()

    def _phi_in(self, phi: np.ndarray) -> np.ndarray:
        """Normalized regressor (a zero column when there is none)."""
        if phi.shape[1] == 0:
            return np.zeros((phi.shape[0], 1))
        return (phi - self.phi_mean_) / self.phi_std_

    def fit(self, data, *, val=None) -> "Implicit":
        """Fit on one or several records (IOData); ``val`` for early stopping (else a chronological split)."""
        import torch

        self._validate()
        exps = self._experiments(data)
        nu, ny = exps[0].nu, exps[0].ny
        lag = self._lag(nu)
        n_in = self._n_regressors(nu, ny)
        if n_in == 0:
            raise ValueError("the window is empty: with no inputs (nu = 0) give na >= 1 output lags; with inputs give "
                             "nb >= 1 or na >= 1.")
        if self.baseline == "last" and self.na < 1:
            raise ValueError("baseline='last' adds the model to the last output value, so it needs na >= 1 output lags; "
                             f"got na={self.na}. Give na >= 1 or baseline=None.")
        need = lag + 10
        short = [d.N for d in exps if d.N < need]
        if short:
            raise ValueError(f"Implicit with na={self.na}, nb={self.nb}, nk={self.nk} needs records of at least "
                             f"{need} samples (a window of {lag} past samples plus 10 regression rows); got a record "
                             f"of {min(short)} samples. Use a longer record or fewer lags.")
        X, Y = self._rows(exps)
        if val is not None:
            Xv, Yv = self._rows(self._experiments(val, "val"))
        elif self.val_fraction > 0 and len(X) >= 20:
            cut = int(round(len(X) * (1 - self.val_fraction)))
            X, Xv, Y, Yv = X[:cut], X[cut:], Y[:cut], Y[cut:]
        else:
            Xv = Yv = None
        self.phi_mean_ = X.mean(0)
        self.phi_std_ = np.where(X.std(0) > 0, X.std(0), 1.0)
        self.y_mean_ = Y.mean(0)
        self.y_std_ = np.where(Y.std(0) > 0, Y.std(0), 1.0)
        self.nu_, self.ny_, self.dt_ = nu, ny, exps[0].dt if exps[0].dt is not None else 1.0
        self.lag_, self.n_regressors_ = lag, n_in
        dtype = torch.float64 if self.dtype == "float64" else torch.float32

        def tens(a):
            return torch.as_tensor(a, dtype=dtype)

        Xt, Yt = tens(self._phi_in(X)), tens((Y - self.y_mean_) / self.y_std_)
        Xvt = tens(self._phi_in(Xv)) if Xv is not None else None
        Yvt = tens((Yv - self.y_mean_) / self.y_std_) if Yv is not None else None
        module = self._module(n_in, ny)
        params = [p for p in module.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        rng = np.random.default_rng(self.seed)
        best, best_state, best_epoch, bad = np.inf, None, 0, 0
        history = {"train": [], "val": []}
        for epoch in range(self.epochs):
            perm = rng.permutation(len(Xt))
            total = 0.0
            for start in range(0, len(perm), self.batch_size):
                idx = torch.as_tensor(perm[start:start + self.batch_size])
                opt.zero_grad()
                loss = torch.mean((module(Xt[idx]) - Yt[idx]) ** 2)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            history["train"].append(total / len(perm))
            if Xvt is not None:
                with torch.no_grad():
                    score = float(torch.mean((module(Xvt) - Yvt) ** 2))
                history["val"].append(score)
            else:
                score = history["train"][-1]
            if not np.isfinite(score):
                break
            if score < best:
                best, best_epoch, bad = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                bad += 1
                if bad >= self.patience:
                    break
        if best_state is not None:
            module.load_state_dict(best_state)
        history["best_epoch"] = best_epoch
        self.history_ = history
        self._store(module)
        return self

    def _store(self, module) -> None:
        """Read the weights out of the torch module into numpy (inference and export need no torch)."""
        import torch

        with torch.no_grad():
            self.W_ = module.deq.W().double().numpy().copy()
            self.U_ = module.deq.U.double().numpy().copy()
            self.b_ = module.deq.b.double().numpy().copy()
            self.C_ = module.C.weight.double().numpy().copy()
            self.c_ = module.C.bias.double().numpy().copy()
            self.D_ = module.D.weight.double().numpy().copy()

    # ------------------------------------------------------------------ inference (numpy)
    def _solve(self, H: np.ndarray, *, solver: str | None = None):
        """x = σ(W x + h) for rows h (B, nx); returns x (B, nx) and the per-row iterations."""
        from .. import solvers as S

        method = solver or self.solver
        if method not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}; got {method!r}.")
        kw = dict(atol=self.tol, rtol=self.tol, max_iter=self.max_iter)
        obj = {"anderson": S.Anderson(m=5, **kw), "picard": S.Picard(**kw), "broyden": S.Broyden(**kw)}[method]
        if self.weight == "monotone":
            obj = type(obj)(**{**obj.__dict__, "max_iter": max(self.max_iter, 2000)})
            res = S.monotone_solve(self.W_, H, sigma=self.sigma, method="pr", solver=obj)
        else:
            act = np.tanh if self.sigma == "tanh" else (lambda v: np.maximum(v, 0.0))
            W = self.W_
            res = obj(lambda X: act(X @ W.T + H), np.zeros_like(H))
        return res.x, res.sample_iterations, res.method

    def _eval(self, phi: np.ndarray, *, solver: str | None = None):
        P = self._phi_in(phi)
        X, its, method = self._solve(P @ self.U_.T + self.b_, solver=solver)
        yn = X @ self.C_.T + self.c_ + P @ self.D_.T
        y = yn * self.y_std_ + self.y_mean_
        if self._uses_baseline:
            y = y + self._last_in_window(phi)
        return y, its, method

    def _check_data(self, data) -> IOData:
        self._check_fitted()
        if not isinstance(data, IOData):
            raise TypeError(f"data must be an IOData; got {type(data).__name__}.")
        if data.nu != self.nu_ or data.ny != self.ny_:
            raise ValueError(f"data must have nu = {self.nu_} inputs and ny = {self.ny_} outputs like the training "
                             f"data; got nu = {data.nu}, ny = {data.ny}.")
        return data

    def predict(self, data, *, horizon: int = 1, solver: str | None = None) -> np.ndarray:
        """``horizon``-step-ahead prediction ŷ(t | t − horizon), shape (N, ny).

        The window is filled with measured outputs up to t − horizon and with the model's
        own predictions after that. Samples before the first full window use the first
        sample repeated (the record is taken to start at rest). The fixed-point work is in
        :attr:`last_inference_` (``solver`` overrides the fitted solver for this call).
        """
        data = self._check_data(data)
        if not isinstance(horizon, (int, np.integer)) or isinstance(horizon, bool) or horizon < 1:
            raise ValueError(f"horizon must be an int >= 1; got {horizon!r}.")
        pad = self.lag_ + horizon
        u, y = self._pad(data.u, pad), self._pad(data.y, pad)
        t = np.arange(pad, pad + data.N)  # padded index of every target sample
        P: dict[int, np.ndarray] = {}  # P[s][r] = ŷ(t_r − horizon + s | t_r − horizon)
        iters, method = [], self.solver
        for s in range(1, horizon + 1):
            tau = t - horizon + s
            cols = []
            if self.nu_ and self.nb:
                cols += [u[tau - self.nk - j] for j in range(self.nb)]
            cols += [y[tau - i] if i >= s else P[s - i] for i in range(1, self.na + 1)]
            phi = np.hstack(cols) if cols else np.zeros((len(t), 0))
            P[s], its, method = self._eval(phi, solver=solver)
            iters.append(its)
        self.last_inference_ = InferenceReport(method, np.concatenate(iters), True)
        return P[horizon]

    def simulate(self, u, *, x0=None, solver: str | None = None) -> np.ndarray:
        """Free-run simulation: the window's outputs are the model's own, shape (N, ny).

        ``x0`` is the Lur'e state (the window of past inputs and outputs, see
        :meth:`to_lure`); zeros by default.
        """
        u = self._check_input(u)
        lure = self.to_lure()
        x = lure._vec(x0, lure.nx, "x0")
        N = u.shape[0]
        Y = np.empty((N, self.ny_))
        iters, method = [], self.solver
        nb_eff = self.nb if self.nu_ else 0
        pu = max(self.nk + nb_eff - 1, 0) if nb_eff else 0
        for k in range(N):
            past_u = x[:pu * self.nu_].reshape(pu, self.nu_) if pu else np.zeros((0, self.nu_))
            past_y = x[pu * self.nu_:].reshape(self.na, self.ny_) if self.na else np.zeros((0, self.ny_))
            useq = np.vstack([u[k:k + 1], past_u])  # u(t), u(t−1), …
            cols = [useq[self.nk + j] for j in range(nb_eff)] + [past_y[i] for i in range(self.na)]
            phi = np.concatenate(cols)[None, :] if cols else np.zeros((1, 0))
            yk, its, method = self._eval(phi, solver=solver)
            Y[k] = yk[0]
            iters.append(its)
            new_u = useq[:pu].reshape(-1)
            new_y = np.vstack([yk, past_y[:self.na - 1]]).reshape(-1) if self.na else np.zeros(0)
            x = np.concatenate([new_u, new_y])
        self.last_inference_ = InferenceReport(method, np.concatenate(iters) if iters else np.zeros(0, int), True)
        return Y

    # ------------------------------------------------------------------ export
    def to_lure(self) -> LureSystem:
        """The exact Lur'e form in physical units: state = the window, D11 = W, Δ = σ.

        State x_t = [u(t−1), …, u(t−pu), y(t−1), …, y(t−na)] (pu = nk + nb − 1 past inputs,
        each ``nu`` long, then ``na`` past outputs, each ``ny`` long); w = the equilibrium
        x of the implicit layer (nv = nx); the shift of the window is the linear part.
        Free-run simulation of the result equals :meth:`simulate`.
        """
        from ..delta import ReLU, Tanh

        self._check_fitted()
        nu, ny, na = self.nu_, self.ny_, self.na
        nb = self.nb if nu else 0
        pu = self.nk + nb - 1 if nb else 0
        nxs = pu * nu + na * ny
        n_in = nb * nu + na * ny
        Px, Pu = np.zeros((n_in, nxs)), np.zeros((n_in, nu))
        for j in range(nb):
            lag = self.nk + j
            rows = slice(j * nu, (j + 1) * nu)
            if lag == 0:
                Pu[rows] = np.eye(nu)
            else:
                Px[rows, (lag - 1) * nu:lag * nu] = np.eye(nu)
        for i in range(1, na + 1):
            rows = slice(nb * nu + (i - 1) * ny, nb * nu + i * ny)
            Px[rows, pu * nu + (i - 1) * ny:pu * nu + i * ny] = np.eye(ny)
        S = 1.0 / self.phi_std_
        US, DS = self.U_ * S, self.D_ * S
        sy = self.y_std_[:, None]
        C1, D12, bv = US @ Px, US @ Pu, self.b_ - US @ self.phi_mean_
        C2, D21, D22 = sy * (DS @ Px), sy * self.C_, sy * (DS @ Pu)
        by = self.y_std_ * (self.c_ - DS @ self.phi_mean_) + self.y_mean_
        if self._uses_baseline:  # y(t) = y(t − 1) + …: the first output slot of the window
            C2 = C2.copy()
            C2[:, pu * nu:pu * nu + ny] += np.eye(ny)
        nv = self.W_.shape[0]
        A, B1, B2, bx = np.zeros((nxs, nxs)), np.zeros((nxs, nv)), np.zeros((nxs, nu)), np.zeros(nxs)
        if pu:
            B2[:nu] = np.eye(nu)
            A[nu:pu * nu, :(pu - 1) * nu] = np.eye((pu - 1) * nu)
        if na:
            o = pu * nu
            A[o:o + ny], B1[o:o + ny], B2[o:o + ny], bx[o:o + ny] = C2, D21, D22, by
            A[o + ny:o + na * ny, o:o + (na - 1) * ny] = np.eye((na - 1) * ny)
        delta = Tanh() if self.sigma == "tanh" else ReLU()
        return LureSystem(A=A, B1=B1, B2=B2, C1=C1, D11=self.W_, D12=D12, C2=C2, D21=D21, D22=D22, bx=bx, bv=bv,
                          by=by, delta=delta, dt=self.dt_, nx=nxs, nu=nu, nv=nv, ny=ny)

    def equilibrium(self, u0=None, *, settle: int = 500) -> np.ndarray:
        """Equilibrium state (the window at rest) for the constant input ``u0``, shape (nx,).

        The Lur'e root finder starts from the state reached after ``settle`` samples of
        free-run simulation at ``u0`` from rest (the window of a NARX model is a poor place
        to start Newton-type solvers from zero).
        """
        lure = self.to_lure()
        u0 = lure._vec(u0, lure.nu, "u0")
        if lure.nx == 0:
            return np.zeros(0)
        _, X = lure.simulate(np.tile(u0, (settle, 1)), return_x=True)
        guess = X[-1] if np.all(np.isfinite(X[-1])) else None
        return lure.equilibrium(u0, x_guess=guess)

    def linearize(self, *, x0=None, u0=None):
        """Jacobian linearization of :meth:`to_lure` at (x0, u0) (default: :meth:`equilibrium` for u0 = 0)."""
        lure = self.to_lure()
        u0v = lure._vec(u0, lure.nu, "u0")
        if x0 is None:
            x0 = self.equilibrium(u0v)
        return lure.linearize(x0, u0v)

    # ------------------------------------------------------------------ persistence
    _ARRAYS = ("W_", "U_", "b_", "C_", "c_", "D_", "phi_mean_", "phi_std_", "y_mean_", "y_std_")

    def _state(self):
        meta = {"nu": self.nu_, "ny": self.ny_, "dt": self.dt_, "lag": self.lag_, "n_regressors": self.n_regressors_,
                "history": self.history_}
        return meta, {name.rstrip("_"): getattr(self, name) for name in self._ARRAYS}

    def _set_state(self, meta, arrays):
        for name in self._ARRAYS:
            setattr(self, name, np.asarray(arrays[name.rstrip("_")]))
        self.nu_, self.ny_, self.dt_ = meta["nu"], meta["ny"], meta["dt"]
        self.lag_, self.n_regressors_, self.history_ = meta["lag"], meta["n_regressors"], meta["history"]
