"""The shared training settings (declared once, here) and the history of a run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["TrainConfig", "TrainResult", "OPTIMIZERS", "LOSSES", "X0", "VAL_X0", "NORMALIZE", "INITS", "DTYPES"]

OPTIMIZERS = ("adam", "rmsprop", "lbfgs", "sgd")
LOSSES = ("simulation", "truncated", "kstep")
X0 = ("auto", "zero", "measured", "fit", "simulated", "burn_in", "encoder")
VAL_X0 = ("auto", "zero", "measured", "simulated", "burn_in")  # nothing trained on validation data
NORMALIZE = ("standard", "scale", None)
INITS = ("linear", "random")
DTYPES = ("float64", "float32")


def _int(value, name, owner, minimum, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        tail = " or None" if allow_none else ""
        raise ValueError(f"The {name!r} parameter of {owner} must be an int >= {minimum}{tail}. Got {value!r} instead.")


def _positive(value, name, owner, allow_none=False, strict=True):
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > 0 if strict else value >= 0
    if not ok:
        tail = " or None" if allow_none else ""
        raise ValueError(f"The {name!r} parameter of {owner} must be {'>' if strict else '>='} 0{tail}. "
                         f"Got {value!r} instead.")


def _choice(value, name, owner, choices):
    if isinstance(value, str) or value is None:
        if value in choices:
            return
    raise ValueError(f"The {name!r} parameter of {owner} must be one of {list(choices)}. Got {value!r} instead.")


@dataclass
class TrainConfig:
    """Every training setting of the neural estimators, declared once.

    Each field is also a keyword of every torch-trained estimator (``NeuralNetStep(lr=...)``),
    where an estimator may change the default (the linear seed models use L-BFGS). The engine
    (:func:`sysid.training.train`) reads the optimization fields; ``NeuralEstimator.fit`` reads
    the data fields (``loss, horizon, x0, burn_in, val_x0, val_fraction, normalize, init, dtype, device``)
    to cut windows and build the model.

    Attributes
    ----------
    epochs : int
        Maximum number of passes over the training windows (one L-BFGS step per epoch).
    max_time : float, optional
        Time budget in seconds; training stops after the first epoch that ends past it.
    optimizer : {"adam", "rmsprop", "lbfgs", "sgd"}
        RMSprop uses the seed's α = 0.99, ε = 1e-8.
    lr : float
    lr_decay : float, optional
        The learning rate is multiplied by this factor after every epoch.
    warmup : int, optional
        The learning rate rises linearly from lr / warmup to lr over the first ``warmup``
        optimizer steps (not for L-BFGS), so that the first steps of Adam, whose size is about
        lr whatever the gradient, do not throw a good (linear) start far off.
    average : float, optional
        Decay per optimizer step of an exponential moving average of the weights (Polyak
        averaging; not for L-BFGS): every epoch is scored with the averaged weights, and those
        are kept as best and returned. None trains and returns the last iterate.
    batch_size : int, optional
        Windows per optimizer step (all by default).
    loss : {"simulation", "truncated", "kstep"} or sysid.training.Loss
        ``"simulation"``: whole records; ``"truncated"``: consecutive windows of ``horizon``
        samples; ``"kstep"``: a window of ``horizon`` samples at every sample.
    horizon : int, optional
        Window length; a record (or validation part) shorter than it is used whole.
    x0 : str or sysid.training.InitialState
        Initial state of each window: ``"auto"`` (``"measured"`` when the state is the output,
        else ``"simulated"``), ``"zero"``, ``"measured"``, ``"fit"``, ``"simulated"``,
        ``"burn_in"`` or ``"encoder"`` (see :mod:`sysid.training` strategies).
    burn_in : int
        Past samples read by ``x0="burn_in"`` and ``x0="encoder"`` (and ``val_x0="burn_in"``).
    val_x0 : str or sysid.training.InitialState
        How validation windows start: ``"auto"`` (the training strategy's own choice: itself,
        ``"simulated"`` for ``"fit"``), ``"zero"``, ``"measured"``, ``"simulated"`` or
        ``"burn_in"`` (from zero ``burn_in`` samples before the window: a start that does not
        depend on where the window lies in the record, as on a new record). Strategies that
        train something of their own (``"fit"``, ``"encoder"``) would train it on validation
        data and are refused.
    val_fraction : float
        Without ``val=``, this fraction of the training samples validates (early stopping, best
        weights): every record is cut into blocks of ``horizon`` samples and every k-th block
        (k ≈ 1 / val_fraction) is held out, so validation covers every part of the record (a long
        record gets longer blocks, at most 8 held out, so the training pieces between them stay
        long enough to fit the linear start on); a record shorter than 2k blocks gives its last
        ``val_fraction`` instead. 0 trains on all.
    refit : bool
        After training with a validation part carved from the training data (``val_fraction``),
        train again on all the data, from the same initialization (the linear start then fitted on
        all the data too), for the number of epochs the validation chose (the first run's history
        is ``history_.selection``). With ``max_time`` each run gets half of it. No effect when
        ``val=`` is given or nothing is carved.
    patience : int, optional
        Early stopping: epochs without a better validation loss.
    restore_best : bool
        Return the weights of the best epoch (the starting model counts: validation loss if
        any, else training loss); False returns the last epoch's (the refit run does: its
        number of epochs was chosen on validation data).
    loss_threshold : float, optional
        Stop once the training loss is below it (the seed's 1e-3 rule).
    clip_grad : float, optional
        Gradient-norm clipping.
    divergence_factor : float
        A loss above this factor times the best one (or NaN/inf) counts as divergence.
    init : {"linear", "random"}
        ``"linear"``: the model starts as a linear model fitted to the data (N4SID, or least
        squares when the state is measured) with a nonlinear part that starts at zero;
        ``"random"``: the module's own random initialization.
    normalize : {"standard", "scale", None}
    seed : int, optional
        Seeds the initialization (through a local generator) and the batch order.
    dtype : {"float64", "float32"}
    device : str, optional
    progress : bool
        Show a tqdm progress bar.
    """

    epochs: int = 200
    max_time: float | None = None
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_decay: float | None = None
    warmup: int | None = 20
    average: float | None = 0.98
    batch_size: int | None = 64
    loss: str = "kstep"
    horizon: int | None = 50
    x0: str = "auto"
    burn_in: int = 20
    val_x0: str = "auto"
    val_fraction: float = 0.2
    refit: bool = True
    patience: int | None = 100
    restore_best: bool = True
    loss_threshold: float | None = None
    clip_grad: float | None = 10.0
    divergence_factor: float = 1e6
    init: str = "linear"
    normalize: str | None = "standard"
    seed: int | None = 0
    dtype: str = "float64"
    device: str | None = None
    progress: bool = False

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def validate(self, owner: str = "train", *, inits: tuple | None = None) -> None:
        """Check every field; the message names ``owner`` and the accepted values (``inits``: the
        ``init`` values the owner accepts; not checked when None — the engine does not use it)."""
        from ._initial import InitialState
        from ._losses import Loss

        _int(self.epochs, "epochs", owner, 0)
        _positive(self.max_time, "max_time", owner, allow_none=True)
        _choice(self.optimizer, "optimizer", owner, OPTIMIZERS)
        _positive(self.lr, "lr", owner)
        _positive(self.lr_decay, "lr_decay", owner, allow_none=True)
        _int(self.warmup, "warmup", owner, 1, allow_none=True)
        if self.average is not None and not (isinstance(self.average, (float, int, np.floating))
                                             and not isinstance(self.average, bool) and 0 < self.average < 1):
            raise ValueError(f"The 'average' parameter of {owner} must be a number in (0, 1) (the decay of the "
                             f"moving average per step) or None. Got {self.average!r} instead.")
        _int(self.batch_size, "batch_size", owner, 1, allow_none=True)
        if not isinstance(self.loss, Loss):
            _choice(self.loss, "loss", owner, LOSSES)
        _int(self.horizon, "horizon", owner, 2, allow_none=True)
        if not isinstance(self.x0, InitialState):
            _choice(self.x0, "x0", owner, X0)
        _int(self.burn_in, "burn_in", owner, 0)
        if isinstance(self.val_x0, InitialState):
            if self.val_x0.name in ("fit", "encoder"):
                raise ValueError(f"The 'val_x0' parameter of {owner} must not train a state of its own on the "
                                 f"validation data; got {self.val_x0!r}. Use one of {list(VAL_X0)}.")
        elif self.val_x0 in ("fit", "encoder"):
            raise ValueError(f"The 'val_x0' parameter of {owner} must be one of {list(VAL_X0)}; got "
                             f"{self.val_x0!r}, which would train its initial states on the validation data. "
                             "Validation windows of x0='fit' or 'encoder' start as with val_x0='auto'.")
        else:
            _choice(self.val_x0, "val_x0", owner, VAL_X0)
        if not (isinstance(self.val_fraction, (int, float, np.floating)) and not isinstance(self.val_fraction, bool)
                and 0 <= self.val_fraction < 1):
            raise ValueError(f"The 'val_fraction' parameter of {owner} must be a number in [0, 1). "
                             f"Got {self.val_fraction!r} instead.")
        if not isinstance(self.refit, bool):
            raise ValueError(f"The 'refit' parameter of {owner} must be True or False. Got {self.refit!r} instead.")
        _int(self.patience, "patience", owner, 1, allow_none=True)
        if not isinstance(self.restore_best, bool):
            raise ValueError(f"The 'restore_best' parameter of {owner} must be True or False. "
                             f"Got {self.restore_best!r} instead.")
        _positive(self.loss_threshold, "loss_threshold", owner, allow_none=True)
        _positive(self.clip_grad, "clip_grad", owner, allow_none=True)
        _positive(self.divergence_factor, "divergence_factor", owner)
        if inits is not None:
            _choice(self.init, "init", owner, inits)
        _choice(self.normalize, "normalize", owner, NORMALIZE)
        if self.seed is not None and (not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool)
                                      or self.seed < 0):
            raise ValueError(f"The 'seed' parameter of {owner} must be an int >= 0 or None. Got {self.seed!r} instead.")
        _choice(self.dtype, "dtype", owner, DTYPES)
        if self.device is not None and not isinstance(self.device, str):
            raise ValueError(f"The 'device' parameter of {owner} must be a string such as 'cpu' or 'cuda:0', or "
                             f"None. Got {self.device!r} instead.")
        if not isinstance(self.progress, bool):
            raise ValueError(f"The 'progress' parameter of {owner} must be True or False. Got {self.progress!r} instead.")


@dataclass
class TrainResult:
    """History of a training run.

    Attributes
    ----------
    loss : list of float
        Training loss per epoch (MSE of normalized outputs, plus any regularization).
    val_loss : list of float
        Validation loss per epoch (empty without validation data).
    seconds : list of float
        Wall time at the end of each epoch.
    initial_loss : float
        The score (validation if any, else training) of the starting model, before any step.
    best_epoch : int
        Epoch of the restored weights; −1 when no epoch beat the starting model, which is then
        returned unchanged.
    best_loss : float
        The score of the restored weights.
    stopped : str
        "max_iter", "max_time", "loss_threshold", "early_stopping" or "converged" (L-BFGS:
        the loss stopped changing).
    selection : TrainResult or None
        With ``refit``: the first run, on the training part, whose validation chose the
        number of epochs of this one.
    guard : tuple of float or None
        With a guard score (``train(..., guard=)``): (the starting model's, the chosen
        weights'); the starting model was returned when the second is larger.
    """

    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    initial_loss: float = math.inf
    best_epoch: int = -1
    best_loss: float = math.inf
    stopped: str = "max_iter"
    selection: "TrainResult | None" = None
    guard: "tuple | None" = None

    @property
    def improved(self) -> bool:
        """True when training improved on the starting model."""
        return self.best_epoch >= 0
