"""``run.json`` → one self-contained HTML page (figures embedded as base64 PNG) and a markdown twin.

Sections, in order (each an HTML ``<section id=...>`` and a markdown ``##`` heading): data,
models, fit, figures, linearization, certificates.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Callable

import numpy as np

from ._study import RUN_FORMAT, system_from_summary

__all__ = ["write_report", "read_run", "SECTIONS"]

SECTIONS = ("data", "models", "fit", "figures", "linearization", "certificates")
_TITLES = {"data": "Data", "models": "Models and settings", "fit": "Fit", "figures": "Figures",
           "linearization": "Linearization", "certificates": "Certificates"}

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{border-bottom:2px solid #345;padding-bottom:.3em}h2{margin-top:1.8em;color:#234}
table{border-collapse:collapse;margin:.6em 0 1.2em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#eef2f6}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}
.yes{color:#176b1e;font-weight:600}.no{color:#a11}.note{color:#666;font-size:.9em}
code{background:#f3f3f3;padding:0 .2em}
"""


class RunFileError(ValueError):
    """A run.json that cannot be reported; the message says what to do."""


def read_run(path) -> dict:
    """Read and check a ``run.json`` written by ``sysid fit``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no run file at {path!r}; run 'sysid fit --config <file.toml>' first (it writes "
                                "<out>/run.json).")
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path!r} is not valid JSON ({exc.msg} at line {exc.lineno}); it is truncated or "
                           "damaged: rerun 'sysid fit'.") from None
    if not isinstance(doc, dict) or doc.get("format") != RUN_FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise RunFileError(f"{path!r} has format {got!r}; expected {RUN_FORMAT!r} (the run.json written by "
                           "'sysid fit').")
    for key in ("models", "data"):
        if key not in doc:
            raise RunFileError(f"{path!r} lacks {key!r}; it is incomplete: rerun 'sysid fit'.")
    return doc


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "∞"
        return f"{v:.{digits}g}"
    return str(v)


def _cplx(p) -> str:
    re, im = p
    if abs(im) < 1e-12 * max(1.0, abs(re)):
        return f"{re:.6g}"
    return f"{re:.6g} {'+' if im >= 0 else '−'} {abs(im):.6g}j"


class _Doc:
    """Builds the HTML and the markdown side by side."""

    def __init__(self, fig_dir: str, fig_rel: str):
        self.html: list[str] = []
        self.md: list[str] = []
        self.fig_dir, self.fig_rel = fig_dir, fig_rel
        self.n_fig = 0

    def section(self, key: str):
        if self.html and self.html[-1] != "<body>":
            self.html.append("</section>")
        self.html.append(f'<section id="{key}"><h2>{_TITLES[key]}</h2>')
        self.md.append(f"\n## {_TITLES[key]}\n")

    def h3(self, text: str):
        self.html.append(f"<h3>{html.escape(text)}</h3>")
        self.md.append(f"\n### {text}\n")

    def p(self, text: str, cls: str | None = None):
        c = f' class="{cls}"' if cls else ""
        self.html.append(f"<p{c}>{html.escape(text)}</p>")
        self.md.append(f"{text}\n")

    def table(self, header: list[str], rows: list[list]):
        h = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
        body = []
        for r in rows:
            cells = []
            for c in r:
                s = _fmt(c)
                cls = ' class="yes"' if s == "yes" else (' class="no"' if s == "no" else "")
                cells.append(f"<td{cls}>{html.escape(s)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        self.html.append(f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        self.md.append("| " + " | ".join(str(c).replace("|", "\\|") for c in header) + " |")
        self.md.append("|" + "|".join(" --- " for _ in header) + "|")
        for r in rows:
            self.md.append("| " + " | ".join(_fmt(c).replace("|", "\\|") for c in r) + " |")
        self.md.append("")

    def figure(self, png: bytes, caption: str):
        self.n_fig += 1
        name = f"figure_{self.n_fig:02d}.png"
        with open(os.path.join(self.fig_dir, name), "wb") as fh:
            fh.write(png)
        b64 = base64.b64encode(png).decode("ascii")
        self.html.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{b64}">'
                         f"<figcaption>Figure {self.n_fig}. {html.escape(caption)}</figcaption></figure>")
        self.md.append(f"![{caption}]({self.fig_rel}/{name})\n\n*Figure {self.n_fig}. {caption}*\n")


def write_report(run_path, *, out_dir: str | None = None, log: Callable[[str], None] | None = None,
                 contraction: bool = True) -> tuple[str, str]:
    """Write ``report.html`` (self-contained) and ``report.md`` (figures in ``report_figures/``).

    Parameters
    ----------
    run_path : path-like
        A ``run.json`` written by ``sysid fit`` (:func:`sysid.report.run_study`).
    out_dir : str, optional
        Folder for the report (default: the folder of ``run.json``).
    contraction : bool
        Draw the contraction picture of models with an exact Lur'e form (loads the saved models).

    Returns
    -------
    (html_path, md_path) : tuple of str
    """
    from .. import plot
    from ..core.compare import CompareResult

    say = log or (lambda _m: None)
    run_path = os.fspath(run_path)
    run = read_run(run_path)
    base = os.path.dirname(os.path.abspath(run_path))
    out_dir = out_dir or base
    os.makedirs(os.path.join(out_dir, "report_figures"), exist_ok=True)
    npz_path = os.path.join(base, run.get("arrays", "run_data.npz"))
    if not os.path.isfile(npz_path):
        raise RunFileError(f"{npz_path!r} is missing; it holds the signals of the run: rerun 'sysid fit'.")
    with np.load(npz_path, allow_pickle=False) as npz:
        arr = {k: npz[k] for k in npz.files}
    data = run["data"]
    tr, te = data["train"], data["test"]
    models = run["models"]
    doc = _Doc(os.path.join(out_dir, "report_figures"), "report_figures")
    title = run.get("title", "sysid study")

    # ------------------------------------------------------------------ data
    doc.section("data")
    src = data["source"]
    if src["kind"] == "dataset":
        what = f"simulated data set sysid.datasets.{src['dataset']}({', '.join(f'{k}={v!r}' for k, v in src.get('options', {}).items())})"
        if src.get("path"):
            what = f"benchmark {src['dataset']} from {src['path']} (test set {src.get('test')!r})"
    else:
        what = f"file {src['file']} (SHA-256 {src['sha256'][:16]}…)"
        what += f", test file {src['test_file']}" if src.get("test_file") else \
            f", split chronologically: the first {100 * src['split']:.0f} % for training"
    doc.p(f"Source: {what}.")
    dt = tr.get("dt")
    doc.table(["record", "samples", "duration [s]", "dt [s]", "inputs", "outputs"],
              [["training", tr["N"], tr["duration"], dt, tr["nu"], tr["ny"]],
               ["test", te["N"], te["duration"], te.get("dt"), te["nu"], te["ny"]]])
    rows = []
    for kind, key in (("input", "inputs"), ("output", "outputs")):
        for c in tr[key]:
            rows.append([f"{c['name']}" + (f" [{c['unit']}]" if c.get("unit") else ""), kind, c["min"], c["max"],
                         c["mean"], c["std"]])
    doc.table(["channel (training)", "kind", "min", "max", "mean", "std"], rows)

    # ------------------------------------------------------------------ models
    doc.section("models")
    rows = []
    for m in models:
        rows.append([m["name"], m.get("repr") or m["estimator"], m["decimate"], m["fit_seconds"]])
    doc.table(["model", "estimator and settings (non-default)", "decimation", "fit time [s]"], rows)
    doc.p("Saved models: " + ", ".join(f"{m['path']}" for m in models) + " (relative to the run folder; "
          "load with sysid.estimators.BaseEstimator.load).", "note")

    # ------------------------------------------------------------------ fit
    doc.section("fit")
    ref = models[0]["compare"]
    what = "free-run simulation" if ref["kind"] == "simulation" else f"{ref['horizon']}-step prediction"
    doc.p(f"Scores per output on the test record ({what}; initial state estimated from the first "
          f"{data['skip']} samples at full rate, which are not scored). fit % = 100 (1 − ‖e‖/‖y − ȳ‖).")
    rows = []
    names = [c["name"] for c in te["outputs"]] if te.get("outputs") else [c["name"] for c in tr["outputs"]]
    for m in models:
        c = m["compare"]
        for i, name in enumerate(names):
            rows.append([m["name"], name, c["test"]["fit_percent"][i], c["test"]["nrmse"][i], c["test"]["rmse"][i],
                         c["test"]["r2"][i], c["train"]["fit_percent"][i]])
    doc.table(["model", "output", "test fit %", "test NRMSE", "test RMSE", "test R²", "training fit %"], rows)
    rows = []
    for m in models:
        r = m.get("resid") or {}
        if "passed" in r:
            rows.append([m["name"], r["kind"], ", ".join(f"{p:.3g}" for p in r["whiteness_pvalue"]),
                         ", ".join(f"{p:.3g}" for row in r["independence_pvalue"] for p in row), bool(r["passed"])])
    if rows:
        doc.p("Residual analysis on the test record (sysid.resid): p-values of the whiteness test (meaningful for "
              "prediction errors) and of the independence from past inputs.")
        doc.table(["model", "residuals", "whiteness p", "independence p", "passed"], rows)

    # ------------------------------------------------------------------ figures
    doc.section("figures")
    out_units = [c.get("unit", "") for c in tr["outputs"]]
    in_names = [c["name"] for c in tr["inputs"]]
    results, labels = [], []
    for m in models:
        k, c = m["array_prefix"], m["compare"]
        t, y, yt = arr[f"{k}_t"], arr[f"{k}_y"], arr[f"{k}_ytrue"]
        results.append(CompareResult(
            fit_percent=np.asarray(c["test"]["fit_percent"]), nrmse=np.asarray(c["test"]["nrmse"]),
            rmse=np.asarray(c["test"]["rmse"]), r2=np.asarray(c["test"]["r2"]), y_model=y, y_true=yt,
            kind=c["kind"], horizon=c["horizon"], skip=c["skip"], x0=None, t=t, output_names=names,
            output_units=out_units))
        labels.append(m["name"])
    # measured line from the full-rate record
    full = CompareResult(fit_percent=results[0].fit_percent, nrmse=results[0].nrmse, rmse=results[0].rmse,
                         r2=results[0].r2, y_model=arr["test_y"], y_true=arr["test_y"], kind=results[0].kind,
                         horizon=results[0].horizon, skip=int(data["skip"]), x0=None, t=arr["test_t"],
                         output_names=names, output_units=out_units)
    order = [full] + results
    fig = plot.compare(order, ["__measured__"] + labels, title=f"test record: {what}")
    for ax in fig.axes:  # drop the duplicate of the measured line
        for line in list(ax.get_lines()):
            if line.get_label().startswith("__measured__"):
                line.remove()
        ax.legend(loc="upper right", fontsize="small")
    doc.figure(plot.to_png(fig), f"Measured test output and the models' {what}; the legend gives fit %.")
    say("figure: compare")

    for m in models:
        h = m.get("history")
        if h and (h.get("loss") or h.get("val_loss")):
            fig = plot.training(h, label=m["name"])
            doc.figure(plot.to_png(fig), f"Training curves of {m['name']} (the restored epoch is marked).")
    say("figure: training")

    lins = [(m["name"], m["linearization"]) for m in models if "error" not in m["linearization"]]
    refsys = src.get("reference")
    systems = [system_from_summary(s) for _, s in lins]
    labs = [n for n, _ in lins]
    if refsys:
        systems.insert(0, system_from_summary(refsys))
        labs.insert(0, refsys["label"])
    if systems:
        groups: dict[float, list] = {}
        for s, lab in zip(systems, labs):
            groups.setdefault(float(s.dt), []).append((s, lab))
        for dtg, group in groups.items():
            fig = plot.pzmap([s for s, _ in group], [lab for _, lab in group],
                             title=f"pole-zero map (dt = {dtg:g} s)" if dtg else "pole-zero map (continuous)")
            doc.figure(plot.to_png(fig), "Poles (×) and zeros (○) of the linearizations"
                       + (f" at dt = {dtg:g} s" if dtg else "") + "; a zoomed inset shows clustered poles.")
        if tr["nu"] > 0 and dt:
            from ..core.iodata import IOData

            train_rec = IOData(arr["train_u"], arr["train_y"], dt=dt, input_names=in_names, output_names=names)
            fig = plot.bode(systems, labs, data=train_rec)
            doc.figure(plot.to_png(fig), "Bode diagram of the linearizations beside the training data's empirical "
                       "transfer estimate (Welch; faint dots: coherence < 0.5).")
        say("figure: pzmap, bode")

    for m in models:
        if m.get("singular_values"):
            fig = plot.singular_values(m["singular_values"], nx=m.get("nx_chosen"),
                                       title=f"order selection: {m['name']}")
            doc.figure(plot.to_png(fig), f"Singular values of {m['name']}'s subspace step; the chosen order is marked.")

    for m, res in zip(models, results):
        r = m.get("resid") or {}
        k = m["array_prefix"]
        if "error" in r or f"{k}_resid_auto" not in arr:
            doc.p(f"{m['name']}: no residual analysis ({r.get('error', 'not computed')}).", "note")
            continue
        from ..core.resid import ResidResult

        fields = {n: arr[f"{k}_resid_{n}"] for n in ("residuals", "lags", "auto", "cross_lags", "cross", "cross_bound",
                                                  "whiteness_pvalue", "independence_pvalue", "white", "independent")}
        rr = ResidResult(kind=r["kind"], auto_bound=r["auto_bound"], confidence=r["confidence"], **fields)
        fig = plot.plot_resid(rr, title=f"residuals of {m['name']} ({r['kind']} errors): "
                              f"{'passed' if r['passed'] else 'FAILED'}")
        doc.figure(plot.to_png(fig), f"Residual analysis of {m['name']} on the test record (sysid.resid): "
                   f"auto-correlation and cross-correlation with the inputs, {100 * r['confidence']:g} % bands; "
                   "p-values of the whiteness and independence tests in the axis labels.")
    say("figure: residuals")

    if contraction:
        _contraction_figures(doc, models, arr, base, say)

    # ------------------------------------------------------------------ linearization
    doc.section("linearization")
    if refsys:
        doc.h3(refsys["label"])
        _lin_tables(doc, refsys)
    for m in models:
        doc.h3(f"{m['name']} at u0 = {m['linearization'].get('u0')}")
        if "error" in m["linearization"]:
            doc.p(f"no linearization: {m['linearization']['error']}", "no")
        else:
            _lin_tables(doc, m["linearization"])

    # ------------------------------------------------------------------ certificates
    doc.section("certificates")
    doc.p("LMI certificates (cvxpy), each re-checked in numpy; 'local' means a statement about the "
          "linearization only.")
    any_cert = False
    for m in models:
        c = m.get("certificates")
        if not c:
            continue
        any_cert = True
        doc.h3(f"{m['name']} ({c.get('model', m['estimator'])})")
        if "error" in c:
            doc.p(f"not computed: {c['error']}", "no")
            continue
        doc.table(["property", "certified", "bound", "scope", "solver / status"],
                  [[r["property"], bool(r["certified"]), r["bound"], "local" if r["local"] else "global",
                    f"{r['solver']} / {r['status']}"] for r in c["rows"]])
    if not any_cert:
        doc.p("Certificates were not computed ([certify] enabled = false).", "note")

    doc.html.append("</section>")
    head = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class=\"note\">sysid {html.escape(str(run.get('sysid_version')))}, run of "
            f"{html.escape(str(run.get('created')))}. Contents: "
            + ", ".join(f'<a href="#{k}">{_TITLES[k]}</a>' for k in SECTIONS) + ".</p>")
    html_text = head + "\n".join(doc.html) + "</body></html>\n"
    md_text = (f"# {title}\n\nsysid {run.get('sysid_version')}, run of {run.get('created')}.\n"
               + "\n".join(doc.md) + "\n")
    html_path = os.path.join(out_dir, "report.html")
    md_path = os.path.join(out_dir, "report.md")
    with open(html_path, "w", encoding="utf-8") as fh:
        fh.write(html_text)
    with open(md_path, "w", encoding="utf-8") as fh:
        fh.write(md_text)
    return html_path, md_path


def _lin_tables(doc: _Doc, s: dict) -> None:
    dt = s["dt"]
    doc.p(f"{'discrete, dt = ' + format(dt, 'g') + ' s' if dt else 'continuous time'}; nx = {s['nx']}; "
          f"{'stable' if s['stable'] else 'NOT stable'}. Poles: {', '.join(_cplx(p) for p in s['poles']) or 'none'}. "
          f"Zeros: {', '.join(_cplx(z) for z in s['zeros']) or 'none'}.")
    dc = s["dcgain"]
    if dc and dc[0]:
        doc.table(["DC gain"] + [f"input {j}" for j in range(len(dc[0]))],
                  [[f"output {i}"] + list(row) for i, row in enumerate(dc)])
    doc.table(["pole", "|pole|" if dt else "Re", "ωn [rad/s]", "ζ", "τ [s]"],
              [[_cplx(r["pole"]), r["magnitude"] if dt else r["pole"][0], r["wn"], r["zeta"], r["tau"]]
               for r in s["modes"]])


def _contraction_figures(doc: _Doc, models: list, arr: dict, base: str, say) -> None:
    from .. import plot
    from ..estimators import BaseEstimator

    for m in models:
        if not m.get("exact_lure"):
            continue
        est = BaseEstimator.load(os.path.join(base, m["path"]))
        lure = est.to_lure()
        dec = m["decimate"]
        u = arr["test_u"][::dec]
        if lure.is_continuous:
            continue  # the picture is drawn for discrete-time models
        n = min(u.shape[0], 400)
        _, X = lure.simulate(u[:n], None, return_x=True)
        scale = np.maximum(np.std(X, axis=0), 1e-3)
        x0s = np.vstack([np.zeros(lure.nx), 2 * scale])
        try:
            fig = plot.contraction(lure, u[:n], x0s, labels=["from rest", "from an offset state"],
                                   title=f"contraction: {m['name']}")
        except Exception as exc:  # a model that diverges from the offset state: say so
            doc.p(f"{m['name']}: no contraction picture ({type(exc).__name__}: {exc}).", "note")
            continue
        doc.figure(plot.to_png(fig), f"{m['name']}: two trajectories under the same test input from different "
                   "initial states; their distance decays when the model is contracting.")
    say("figure: contraction")
