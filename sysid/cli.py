"""The ``sysid`` command line: a whole identification study from a configuration file.

    sysid fit --config examples/configs/pendulum.toml      # fit, score, linearize, certify, save
    sysid report out/run.json                              # one self-contained HTML page + markdown
    sysid compare out/models/N4SID --config examples/configs/pendulum.toml
    sysid linearize out/models/NeuralNetStep --u0 0
    sysid resid out/models/N4SID --config examples/configs/pendulum.toml
    sysid demo

Exit codes: 0 ok, 1 error (one line on stderr that says what to fix), 2 usage error.
Heavy modules (torch, cvxpy, matplotlib) load only inside the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

__all__ = ["main", "demo", "info"]


class CLIError(Exception):
    """An error the user can fix; printed as one line, exit status 1."""


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def _sorted_poles(sys) -> np.ndarray:
    p = np.atleast_1d(sys.poles())
    return p[np.lexsort((p.imag, -np.abs(p)))]


def _progress(args) -> bool:
    """Progress bars only when asked for (not --quiet) and stderr is a terminal."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


def demo(out: str = "out", seed: int = 0, quick: bool = False, progress: bool | None = None) -> int:
    """Identify the seed pendulum, print fit % and poles, save two compare figures."""
    import matplotlib

    matplotlib.use("Agg")
    from . import compare, datasets, plot
    from .estimators import N4SID

    os.makedirs(out, exist_ok=True)
    d = datasets.pendulum(seed=seed)
    print(f"pendulum: {d.train.N} training and {d.test.N} test samples at dt = {d.train.dt} s; "
          "input torque [N m], output angle [rad]")
    true_lin = d.system.linearize(u0=[0.0])

    results, labels, models, fitted = [], [], [], []
    t0 = time.perf_counter()
    lin = N4SID(nx=2).fit(d.train)
    results.append(compare(lin, d.test, x0="estimate", skip=20))
    labels.append(f"N4SID (nx=2, {time.perf_counter() - t0:.2f} s)")
    models.append(lin.linearize())
    fitted.append(lin)
    # a neural state-space model (Δt = 0.05 s: every 5th sample), linearized at the bottom
    from .estimators import NeuralNetStep

    t0 = time.perf_counter()
    net = NeuralNetStep(nx=2, hidden=16, residual=True, init_std=0.1, horizon=60, epochs=60 if quick else 150,
                        seed=seed, progress=(not quick) if progress is None else progress).fit(d.train[::5])
    res = compare(net, d.test[::5], x0="estimate", skip=4)
    results.append(res)
    labels.append(f"NeuralNetStep (nx=2, Δt=0.05 s, {time.perf_counter() - t0:.1f} s)")
    models.append(net.linearize(u0=[0.0]))
    fitted.append(net)

    print("\ntest set, free-run simulation (initial state from the first 20 samples):")
    rows = [["model", "fit %", "RMSE [rad]"]]
    for lab, res in zip(labels, results):
        rows.append([lab, f"{res.fit_percent[0]:.2f}", f"{res.rmse[0]:.4g}"])
    print(_table(rows))

    print("\npoles of the linearization at the bottom: identified vs true (discrete; the network's at Δt = 0.05 s, "
          "compared with the true poles to the 5th power)")
    true_p = _sorted_poles(true_lin)
    rows = [["true linearized (Δt = 0.01 s)"] + [f"{p:.5f}" for p in true_p],
            ["true linearized, ^5 (Δt = 0.05 s)"] + [f"{p:.5f}" for p in true_p**5]]
    for lab, m in zip(labels, models):
        rows.append([lab.split(" (")[0]] + [f"{p:.5f}" for p in _sorted_poles(m)])
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    print(_table(rows))

    from . import certify

    print("\ncertificates (LMIs, re-checked in numpy):")
    for est in fitted:
        print(certify.report(est))

    fig = plot.compare(results[:1], labels[:1], title="pendulum, test set: free-run simulation (linear model)")
    plot.save(fig, os.path.join(out, "demo_compare_linear.png"))
    fig = plot.compare(results[1:], labels[1:], title="pendulum, test set: free-run simulation (neural model)")
    path = os.path.join(out, "demo_compare.png")
    plot.save(fig, path)
    print(f"\n2 figures saved: {os.path.join(out, 'demo_compare_linear.png')}, {path}")
    return 0


def info() -> int:
    import sysid

    print(f"sysid {sysid.__version__}")
    for name in ("numpy", "scipy", "control", "cvxpy", "clarabel", "scs", "cvxopt", "torch", "torchdiffeq"):
        try:
            mod = __import__(name)
            print(f"  {name:<12}{getattr(mod, '__version__', '?')}")
        except ImportError:  # pragma: no cover
            print(f"  {name:<12}missing")
    return 0


# ---------------------------------------------------------------------------------------- helpers
def _names(values) -> list[str]:
    """Channel names from repeated and/or comma-separated options."""
    out: list[str] = []
    for v in values or []:
        out += [s.strip() for s in str(v).split(",") if s.strip()]
    return out


def _floats(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CLIError(f"{what} must be comma-separated numbers (e.g. 0,0.5); got {text!r}.") from None


def _value(text: str):
    """A parameter value written as in TOML (numbers, true/false, "strings", [lists]); bare words are strings."""
    from .report._config import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _params(items) -> dict:
    params = {}
    for item in items or []:
        if "=" not in item:
            raise CLIError(f"--param must be NAME=VALUE (e.g. --param nx=4); got {item!r}.")
        key, val = item.split("=", 1)
        params[key.strip()] = _value(val.strip())
    return params


def load_model(path):
    """Load a saved estimator folder, refusing damaged files with one line that says what to do."""
    from .estimators import BaseEstimator

    path = os.fspath(path)
    if os.path.isfile(path) and os.path.basename(path) == "meta.json":
        path = os.path.dirname(path) or "."
    if not os.path.isdir(path):
        raise CLIError(f"no saved model at {path!r}; expected a folder with meta.json and weights.npz (sysid fit "
                       "writes them into <out>/models/<name>).")
    meta = os.path.join(path, "meta.json")
    weights = os.path.join(path, "weights.npz")
    for f in (meta, weights):
        if not os.path.isfile(f):
            raise CLIError(f"{f!r} is missing; {path!r} is not a complete saved model: refit it with sysid fit.")
    try:
        with open(meta) as fh:
            json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CLIError(f"{meta!r} is not valid JSON ({getattr(exc, 'msg', exc)}); the file is empty, truncated or "
                       "damaged: refit and save the model again.") from None
    try:
        est = BaseEstimator.load(path)
    except (KeyError, TypeError) as exc:
        raise CLIError(f"{meta!r} does not describe a sysid model ({type(exc).__name__}: {exc}); it was edited "
                       "or damaged: refit and save the model again.") from None
    import zipfile

    try:
        with np.load(weights, allow_pickle=False) as npz:
            bad = [k for k in npz.files if npz[k].dtype.kind in "fc" and not np.all(np.isfinite(npz[k]))]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CLIError(f"{weights!r} is not a readable weights file ({exc}); refit and save the model again.") \
            from None
    if bad:
        raise CLIError(f"{weights!r} holds NaN/inf in {bad[:3]}; the model is unusable (training diverged or the "
                       "file was damaged): refit it, e.g. with a smaller learning rate.")
    return est


def _add_data_args(p, *, outputs: bool = True, config: bool = True) -> None:
    g = p.add_argument_group("data (a file with named columns, or the test record of a study config)")
    g.add_argument("--data", metavar="FILE", help="CSV (header row), .npz or .mat file")
    g.add_argument("--inputs", action="append", metavar="NAMES", help="input column(s), comma-separated")
    if outputs:
        g.add_argument("--outputs", action="append", metavar="NAMES", help="output column(s), comma-separated")
    g.add_argument("--dt", type=float, help="sampling period [s] (or --time)")
    g.add_argument("--time", metavar="NAME", help="name of a time column")
    if config:
        g.add_argument("--config", metavar="TOML", help="use the test record of this study configuration")


def _data_from_args(args, *, need_outputs: bool = True):
    from .datasets import read_data

    if getattr(args, "config", None):
        if args.data:
            raise CLIError("give --data or --config, not both.")
        from .report import load_config, load_study_data

        _, test, _ = load_study_data(load_config(args.config))
        return test
    if not args.data:
        raise CLIError("no data: give --data FILE with --inputs/--outputs and --dt (or --time), or --config "
                       "STUDY.toml.")
    inputs = _names(args.inputs)
    outputs = _names(getattr(args, "outputs", None))
    if need_outputs and not outputs:
        raise CLIError("--outputs must name the output column(s) of the data file, e.g. --outputs y.")
    return read_data(args.data, inputs=inputs, outputs=outputs, dt=args.dt, time=args.time)


def _check_channels(est, data, path) -> None:
    nu = getattr(est, "nu_", None)
    if nu is not None and nu != data.nu:
        raise CLIError(f"the model {path!r} has {nu} input(s); the data has {data.nu} ({data.input_names}). "
                       "Pass the model's input columns with --inputs.")
    ny = getattr(est, "ny_", None)
    if ny is not None and ny != data.ny:
        raise CLIError(f"the model {path!r} has {ny} output(s); the data has {data.ny} ({data.output_names}). "
                       "Pass the model's output columns with --outputs.")
    dt = getattr(est, "dt_", None)
    if dt and data.dt and not np.isclose(dt, data.dt, rtol=1e-9):
        k = dt / data.dt
        fix = f"pass --decimate {round(k)} (every {round(k)}th sample)" if k > 1 and np.isclose(k, round(k)) else \
            "resample the data"
        raise CLIError(f"the model {path!r} was fitted at dt = {dt:g} s; the data has dt = {data.dt:g} s. "
                       f"{fix[0].upper() + fix[1:]} or check --dt.")


# ---------------------------------------------------------------------------------------- commands
def cmd_fit(args) -> int:
    from .report import check_config, load_config, run_study

    if args.config:
        if args.data or args.estimator:
            raise CLIError("give --config or the flags --data/--estimator, not both.")
        cfg = load_config(args.config)
    else:
        if not (args.data and args.estimator):
            raise CLIError("give --config STUDY.toml, or --data FILE --inputs ... --outputs ... --dt ... "
                           "--estimator NAME [--param k=v ...].")
        data = {"file": os.path.abspath(args.data), "inputs": _names(args.inputs), "outputs": _names(args.outputs)}
        if args.dt is not None:
            data["dt"] = args.dt
        if args.time:
            data["time"] = args.time
        if args.test_data:
            data["test_file"] = os.path.abspath(args.test_data)
        elif args.split is not None:
            data["split"] = args.split
        cfg = check_config({"title": args.title or f"{args.estimator} on {os.path.basename(args.data)}",
                            "data": data, "compare": {"skip": args.skip} if args.skip is not None else {},
                            "model": [{"name": args.name or args.estimator, "estimator": args.estimator,
                                       "params": _params(args.param), "decimate": args.decimate}]},
                           where="command line")
    out = args.out or cfg["out"]
    log = (lambda m: None) if args.quiet else print
    path = run_study(cfg, out=out, progress=_progress(args), log=log)
    with open(path) as fh:
        run = json.load(fh)
    if not args.quiet:
        rows = [["model", "output", "test fit %", "test RMSE", "fit time [s]"]]
        outs = [c["name"] for c in run["data"]["test"]["outputs"]]
        for m in run["models"]:
            for i, name in enumerate(outs):
                rows.append([m["name"], name, f"{m['compare']['test']['fit_percent'][i]:.2f}",
                             f"{m['compare']['test']['rmse'][i]:.4g}", f"{m['fit_seconds']:.2f}"])
        print(_table(rows))
    print(f"wrote {path}; next: sysid report {path}")
    return 0


def cmd_report(args) -> int:
    from .report import load_config, run_study, write_report

    src = args.run
    if src.endswith(".toml"):
        cfg = load_config(src)
        src = run_study(cfg, out=args.out or cfg["out"], progress=_progress(args),
                        log=(lambda m: None) if args.quiet else print)
    _agg()
    html, md = write_report(src, out_dir=args.out if not args.run.endswith(".toml") else None,
                            contraction=not args.no_contraction, log=None)
    print(f"wrote {html} and {md}")
    return 0


def cmd_simulate(args) -> int:
    est = load_model(args.model)
    x0 = _floats(args.x0, "--x0")
    nu = est.nu_
    if nu == 0:
        if not args.samples:
            raise CLIError("the model has no inputs; give --samples N (and --dt) to simulate N samples.")
        u = np.zeros((args.samples, 0))
        dt = args.dt or est.dt_ or 1.0
        t = np.arange(args.samples) * dt
        names: list[str] = []
    else:
        from .datasets import read_data

        if not args.data:
            raise CLIError("give --data FILE --inputs NAMES (the input columns) and --dt or --time.")
        names = _names(args.inputs)
        if len(names) != nu:
            raise CLIError(f"the model has {nu} input(s); --inputs names {len(names)} column(s) ({names}). Name "
                           f"exactly {nu} input column(s), comma-separated.")
        rec = read_data(args.data, inputs=[], outputs=names, dt=args.dt, time=args.time)
        u, t = rec.y, rec.t
        if est.dt_ and rec.dt and not np.isclose(est.dt_, rec.dt, rtol=1e-9):
            raise CLIError(f"the model was fitted at dt = {est.dt_:g} s; the data has dt = {rec.dt:g} s. Resample "
                           "the input or check --dt.")
    y = est.simulate(u, x0=None if x0 is None else np.asarray(x0))
    header = ["time", *names, *[f"y{i}" for i in range(y.shape[1])]]
    table = np.column_stack([t, u, y])
    lines = [",".join(header)] + [",".join(repr(float(v)) for v in row) for row in table]
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        print(f"wrote {args.out}: {len(t)} samples, columns {header}")
    else:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_compare(args) -> int:
    from . import compare

    data = _data_from_args(args)
    results, labels = [], []
    if args.decimate is not None:
        if args.decimate < 1:
            raise CLIError(f"--decimate must be an int >= 1; got {args.decimate}.")
        data = data[::args.decimate]
    for path in args.models:
        est = load_model(path)
        _check_channels(est, data, path)
        res = compare(est, data, x0="estimate" if args.skip else "zero", skip=args.skip, horizon=args.horizon)
        label = os.path.basename(os.path.normpath(path))
        print(f"{label}: {res}")
        results.append(res)
        labels.append(label)
    if args.figure:
        _agg()
        from . import plot

        plot.save(plot.compare(results, labels), args.figure)
        print(f"wrote {args.figure}")
    return 0


def cmd_resid(args) -> int:
    from .core.resid import resid

    data = _data_from_args(args)
    if args.decimate is not None:
        if args.decimate < 1:
            raise CLIError(f"--decimate must be an int >= 1; got {args.decimate}.")
        data = data[::args.decimate]
    est = load_model(args.model)
    _check_channels(est, data, args.model)
    res = resid(est, data, max_lag=args.max_lag, confidence=args.confidence)
    print(res)
    if args.figure:
        _agg()
        from . import plot

        plot.save(plot.plot_resid(res), args.figure)
        print(f"wrote {args.figure}")
    return 0 if res.passed or not args.strict else 3


def cmd_linearize(args) -> int:
    from .report import linearization_summary

    est = load_model(args.model)
    u0 = _floats(args.u0, "--u0")
    x0 = _floats(args.x0, "--x0")
    if u0 is not None and len(u0) != est.nu_:
        raise CLIError(f"--u0 must have one value per input ({est.nu_}); got {len(u0)}: {u0}.")
    lin = est.linearize(x0=None if x0 is None else np.asarray(x0), u0=None if u0 is None else np.asarray(u0))
    s = linearization_summary(lin)
    if args.json:
        print(json.dumps({"u0": u0, "x0": x0, **s}, indent=1))
        return 0

    def c(z):
        re, im = z
        return f"{re:.6g}" if abs(im) < 1e-12 else f"{re:.6g}{'+' if im >= 0 else '-'}{abs(im):.6g}j"

    where = "discrete, dt = %g s" % s["dt"] if s["dt"] else "continuous time"
    print(f"linearization of {os.path.normpath(args.model)} at u0 = {u0 if u0 is not None else 'default'} "
          f"({where}, nx = {s['nx']}, {'stable' if s['stable'] else 'NOT stable'})")
    print("poles: " + (", ".join(c(p) for p in s["poles"]) or "none"))
    print("zeros: " + (", ".join(c(z) for z in s["zeros"]) or "none"))
    print("DC gain (rows: outputs, columns: inputs):")
    for row in s["dcgain"]:
        print("  " + "  ".join("inf" if v is None else f"{v:.6g}" for v in row))
    rows = [["pole", "|pole|" if s["dt"] else "Re", "wn [rad/s]", "zeta", "tau [s]"]]
    for r in s["modes"]:
        rows.append([c(r["pole"]), f"{r['magnitude'] if s['dt'] else r['pole'][0]:.6g}", f"{r['wn']:.6g}",
                     f"{r['zeta']:.4g}", f"{r['tau']:.4g}"])
    print(_table(rows))
    return 0


def cmd_certify(args) -> int:
    from . import certify

    est = load_model(args.model)
    print(certify.report(est, solver=args.solver))
    return 0


_BENCH_FOLDERS = {"cascaded_tanks": "cascaded_tanks", "silverbox": "silverbox", "f16": "f16_gvt"}


def cmd_bench(args) -> int:
    from . import benchmarks, datasets
    from .report import make_estimator

    folder = args.data_dir
    if folder is None:
        root = os.environ.get("SYSID_DATA", os.path.join("..", "shared", "data"))
        folder = os.path.join(root, _BENCH_FOLDERS[args.benchmark])
    bench = getattr(datasets, args.benchmark)(folder)
    params = _params(args.param)
    make_estimator(args.estimator, params)  # validates the name and the parameters before any work
    label = args.label or (f"{args.estimator}(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")")
    result = benchmarks.evaluate(lambda: make_estimator(args.estimator, params, progress=_progress(args)), bench,
                                 label=label)
    print(benchmarks.format_table([result]))
    if args.json:
        benchmarks.save_json([result], args.json)
        print(f"\nwrote {args.json}")
    return 0


# ---------------------------------------------------------------------------------------- parser
class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _sub(sub, name: str, help: str, example: str):
    return sub.add_parser(name, help=help, description=(help[0].upper() + help[1:]).replace("%%", "%") + ".",
                          epilog=f"example:\n  {example}", formatter_class=_Formatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sysid", formatter_class=_Formatter,
        description="System identification in control-theory style: data → estimate → compare → linearize → "
                    "certify → report.",
        epilog="examples:\n"
               "  sysid fit --config examples/configs/pendulum.toml && sysid report out/run.json\n"
               "  sysid demo\n\n"
               "exit status: 0 ok, 1 error (one line on stderr saying what to fix), 2 usage error,\n"
               "3 'sysid resid --strict' found residuals that fail the tests.\n"
               "'sysid COMMAND --help' shows each command's options and an example.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"sysid {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _sub(sub, "fit", "fit models to data from a TOML study file or flags; save them and run.json",
             "sysid fit --config examples/configs/pendulum.toml\n"
             "  sysid fit --data plant.csv --inputs u --outputs y --dt 0.01 --estimator N4SID --param nx=4")
    p.add_argument("--config", metavar="TOML", help="study file (see examples/configs/pendulum.toml)")
    g = p.add_argument_group("without --config: one model on a data file")
    g.add_argument("--data", metavar="FILE", help="CSV (header row), .npz or .mat file")
    g.add_argument("--inputs", action="append", metavar="NAMES", help="input column(s), comma-separated")
    g.add_argument("--outputs", action="append", metavar="NAMES", help="output column(s), comma-separated")
    g.add_argument("--dt", type=float, help="sampling period [s] (or --time)")
    g.add_argument("--time", metavar="NAME", help="name of a time column")
    g.add_argument("--test-data", metavar="FILE", help="separate test file (default: split the data)")
    g.add_argument("--split", type=float, help="training fraction of a chronological split (default 0.7)")
    g.add_argument("--estimator", metavar="NAME", help="N4SID, ARX, NeuralNetStep, MatrixStep, NeuralODE, "
                                                        "NeuralODEMatrix, LSTM or REN")
    g.add_argument("--param", action="append", metavar="NAME=VALUE", help="estimator parameter (repeatable), "
                                                                         "value as in TOML: nx=4, pem=true")
    g.add_argument("--name", help="model name (default: the estimator)")
    g.add_argument("--decimate", type=int, default=1, help="fit on every k-th sample")
    g.add_argument("--skip", type=int, help="test samples that set the initial state (not scored)")
    g.add_argument("--title", help="title of the study")
    p.add_argument("--out", metavar="DIR", help="results folder (default: the config's out, else out/)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or step messages")
    p.set_defaults(func=cmd_fit)

    p = _sub(sub, "report", "write a self-contained HTML report and a markdown twin from run.json",
             "sysid report out/run.json            # writes out/report.html and out/report.md")
    p.add_argument("run", metavar="RUN", help="run.json written by sysid fit (or a study .toml: fit first)")
    p.add_argument("--out", metavar="DIR", help="folder for the report (default: the run's folder)")
    p.add_argument("--no-contraction", action="store_true", help="skip the contraction pictures (no model loading)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_report)

    p = _sub(sub, "simulate", "simulate a saved model with the inputs of a data file; write a CSV",
             "sysid simulate out/models/N4SID --data input.csv --inputs torque --dt 0.01 --out sim.csv")
    p.add_argument("model", metavar="MODEL", help="saved model folder (e.g. out/models/N4SID)")
    _add_data_args(p, outputs=False, config=False)
    p.add_argument("--x0", metavar="X", help="initial state, comma-separated (default: zeros)")
    p.add_argument("--samples", type=int, help="number of samples for a model without inputs")
    p.add_argument("--out", metavar="CSV", help="output file (default: standard output)")
    p.set_defaults(func=cmd_simulate)

    p = _sub(sub, "compare", "score saved models on data (fit %%, NRMSE, RMSE per output)",
             "sysid compare out/models/N4SID out/models/NeuralNetStep --config examples/configs/pendulum.toml "
             "--skip 20 --figure cmp.png")
    p.add_argument("models", nargs="+", metavar="MODEL", help="saved model folder(s)")
    _add_data_args(p)
    p.add_argument("--skip", type=int, default=20, help="samples that set the initial state, not scored "
                                                         "(default 20; 0: start from zero)")
    p.add_argument("--horizon", type=int, help="k-step prediction instead of free-run simulation")
    p.add_argument("--decimate", type=int, metavar="K", help="score on every K-th sample (models fitted with "
                                                             "decimate = K)")
    p.add_argument("--figure", metavar="PNG", help="save the compare figure")
    p.set_defaults(func=cmd_compare)

    p = _sub(sub, "resid", "residual analysis of a saved model: whiteness and independence from past inputs",
             "sysid resid out/models/N4SID --config examples/configs/pendulum.toml --figure resid.png")
    p.add_argument("model", metavar="MODEL")
    _add_data_args(p)
    p.add_argument("--max-lag", type=int, default=25, help="largest lag (default 25)")
    p.add_argument("--confidence", type=float, default=0.99, help="level of the bands and tests (default 0.99)")
    p.add_argument("--decimate", type=int, metavar="K", help="use every K-th sample")
    p.add_argument("--figure", metavar="PNG", help="save the correlation figure")
    p.add_argument("--strict", action="store_true", help="exit with status 3 when the tests fail")
    p.set_defaults(func=cmd_resid)

    p = _sub(sub, "linearize", "poles, zeros, DC gain and the damping/frequency table of a saved model",
             "sysid linearize out/models/NeuralNetStep --u0 0")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--u0", metavar="U", help="operating input, comma-separated (default: the model's)")
    p.add_argument("--x0", metavar="X", help="operating state, comma-separated (default: the equilibrium)")
    p.add_argument("--json", action="store_true", help="print JSON (matrices included)")
    p.set_defaults(func=cmd_linearize)

    p = _sub(sub, "certify", "LMI certificates of a saved model (stability, contraction, incremental gain)",
             "sysid certify out/models/N4SID")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--solver", help="cvxpy solver (default: automatic)")
    p.set_defaults(func=cmd_certify)

    p = _sub(sub, "bench", "fit an estimator on a benchmark's training split; test RMSE beside published results",
             "sysid bench cascaded_tanks --data-dir ../shared/data/cascaded_tanks --estimator N4SID --param nx=3")
    p.add_argument("benchmark", choices=sorted(_BENCH_FOLDERS))
    p.add_argument("--data-dir", metavar="DIR", help="folder with the benchmark's files (default: "
                                                     "$SYSID_DATA or ../shared/data, then the benchmark's folder)")
    p.add_argument("--estimator", default="N4SID", metavar="NAME")
    p.add_argument("--param", action="append", metavar="NAME=VALUE")
    p.add_argument("--label", help="name of the model in the table")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = _sub(sub, "demo", "identify the seed pendulum, print fit %% and poles, save 2 figures",
             "sysid demo --out out")
    p.add_argument("--out", default="out", help="folder for the figures (default: out/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="shorter training (for tests)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=lambda a: demo(out=a.out, seed=a.seed, quick=a.quick, progress=_progress(a)))

    p = _sub(sub, "info", "versions of sysid and its dependencies", "sysid info")
    p.set_defaults(func=lambda a: info())
    return parser


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    import warnings

    formatwarning = warnings.formatwarning
    warnings.formatwarning = _warning_line  # warnings, like errors, as one line
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # pragma: no cover
        print("sysid: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.traceback:
            raise
        known = (CLIError, ValueError, TypeError, KeyError, OSError, ArithmeticError)
        from .exceptions import ConvergenceError, DivergenceError, NotFittedError, SolverError

        known += (ConvergenceError, DivergenceError, NotFittedError, SolverError)
        hint = "" if isinstance(exc, known) else " (unexpected: rerun with --traceback and report it)"
        prefix = "" if isinstance(exc, (CLIError, ValueError)) else f"{type(exc).__name__}: "
        print(f"sysid {args.command}: error: {prefix}{_one_line(exc)}{hint}", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = formatwarning


def _warning_line(message, category, filename, lineno, line=None) -> str:
    return f"sysid: warning ({category.__name__}): {_one_line(message)}\n"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
