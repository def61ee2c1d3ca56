"""Training speed: seconds per optimizer iteration, sysid's engine vs deepSI's SUBNET.

    python benchmarks/training_speed.py [--T 50] [--batch 256] [--its 10] [--repeats 5] [--threads 1]

Same window length T, batch size and thread count for every model; one iteration is a forward
pass over the batch of windows, the loss, the backward pass and an Adam step (sysid: the engine's
own loss function, windows started by the ``Zero`` strategy — the cheapest start, as SUBNET's
encoder is part of its own iteration). Cascaded-tanks sized problem: nu = ny = 1, nx = 4 (REN:
nv = 16 and 32, from the default start (D11 = 0) and from a random one (a large D11, the
equilibrium layer's worst case); LSTM: 16 units), float32 and float64. Reports CPU seconds per
iteration (process time, so a loaded machine inflates it less; the load average is recorded) and
the ratio to SUBNET.
Writes benchmarks/results/training_speed.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def time_its(steps: dict, its: int, repeats: int = 5) -> dict:
    """Median CPU seconds per iteration of each step; the models take turns (``repeats`` rounds of
    ``its`` iterations each), so a change of machine load between them affects all alike."""
    for step in steps.values():
        step()  # warm-up
    out = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            c0 = time.process_time()
            for _ in range(its):
                step()
            out[name].append((time.process_time() - c0) / its)
    return {name: statistics.median(v) for name, v in out.items()}


def sysid_step(module, T, batch, dtype):
    from sysid.training import KStep, Zero, cut_windows
    from sysid.training._engine import _loss

    rng = np.random.default_rng(0)
    N = T + batch
    recs = [(rng.normal(size=(N, module.nu)), rng.normal(size=(N, module.ny)))]
    windows = cut_windows(recs, loss=KStep(T), x0=Zero(), dtype=dtype)
    module = module.to(dtype)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    idx = [torch.arange(batch)]

    def step():
        opt.zero_grad()
        loss = _loss(module, windows, idx)
        loss.backward()
        opt.step()
    return step


def subnet_step(T, batch, dtype, nx=4, na=10, nb=10):
    import deepSI

    rng = np.random.default_rng(0)
    N = 2000
    data = deepSI.Input_output_data(u=rng.normal(size=N), y=rng.normal(size=N), sampling_time=1.0)
    norm = deepSI.get_nu_ny_and_auto_norm(data)
    model = deepSI.SUBNET(*norm, nx=nx, na=na, nb=nb).to(dtype)
    arrays, indices = model.create_arrays(data, T=T)
    arrays = [torch.as_tensor(np.asarray(a), dtype=dtype) for a in arrays]
    sel = torch.as_tensor(np.asarray(indices)[:batch])
    upast, ypast, ufuture, yfuture = (a[sel] for a in arrays)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        yhat = model(upast, ypast, ufuture)
        loss = torch.mean((yhat - yfuture) ** 2)
        loss.backward()
        opt.step()
    return step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--T", type=int, default=50)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--its", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=os.path.join(HERE, "results", "training_speed.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from sysid.models import LSTMModule, RENModule
    from sysid.models.node import NeuralODEModule
    from sysid.models.step import StepModule

    rows = []
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(0)
        models = {
            "NeuralNetStep (nx 4, 32 tanh, linear part)": lambda: StepModule(4, 1, 1, hidden=32, full_state=False,
                                                                             linear=True),
            "NeuralODE (nx 4, 32 tanh, RK4 1 substep)": lambda: NeuralODEModule(4, 1, 1, dt=1.0, hidden=32,
                                                                                 full_state=False, substeps=1,
                                                                                 linear=True),
            "LSTM (16 units)": lambda: LSTMModule(1, 1, n_units=16),
            "REN (nx 4, nv 16)": lambda: RENModule(1, 1, nx=4, nv=16, seed=0, dtype=dtype),
            "REN (nx 4, nv 32)": lambda: RENModule(1, 1, nx=4, nv=32, seed=0, dtype=dtype),
            # a random X gives a large D11 (‖D11‖∞ ≈ 6–12, more than trained models reach): the
            # equilibrium layer's worst case
            "REN (nx 4, nv 16, random init: large D11)": lambda: RENModule(1, 1, nx=4, nv=16, seed=0, dtype=dtype,
                                                                           init="random"),
            "REN (nx 4, nv 32, random init: large D11)": lambda: RENModule(1, 1, nx=4, nv=32, seed=0, dtype=dtype,
                                                                           init="random"),
        }
        base_name = "deepSI SUBNET (nx 4, na = nb = 10)"
        steps = {}
        try:
            steps[base_name] = subnet_step(args.T, args.batch, dtype)
        except ImportError:
            print("deepSI is not installed (pip install -e '.[bench]'); ratios are left out", file=sys.stderr)
        for name, make in models.items():
            steps[name] = sysid_step(make(), args.T, args.batch, dtype)
        sec = time_its(steps, args.its, args.repeats)
        base = sec.get(base_name)
        for name, s in sec.items():
            rows.append({"model": name, "dtype": str(dtype)[6:], "seconds_per_it": s,
                         "ratio": None if base is None else s / base})
        for r in rows[-len(sec):]:
            print(f"{r['dtype']:<8}{r['model']:<50}{1e3 * r['seconds_per_it']:9.1f} ms/it   ratio "
                  f"{'-' if r['ratio'] is None else format(r['ratio'], '.2f')}", flush=True)
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    meta = {"T": args.T, "batch": args.batch, "threads": args.threads, "its": args.its, "repeats": args.repeats,
            "torch": torch.__version__,
            "cpus": os.cpu_count(), "load_average_1_5_15_min": load, "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                          time.gmtime())}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({**meta, "rows": rows}, fh, indent=2)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as fh:
        fh.write(markdown(meta, rows))


def markdown(meta, rows) -> str:
    """The rows as a markdown table (one line per model, float32 and float64 side by side)."""
    lines = [f"Training speed, CPU seconds per iteration (window T = {meta['T']}, batch {meta['batch']}, "
             f"{meta['threads']} thread(s), torch {meta['torch']}, {meta['date']}, load average "
             f"{meta['load_average_1_5_15_min']} on {meta['cpus']} cores). Ratio: to deepSI's SUBNET in the same "
             "dtype (≤ 1: as fast or faster). Written by `benchmarks/training_speed.py`.", "",
             "| model | float32 ms/it | ratio | float64 ms/it | ratio |", "|---|---|---|---|---|"]
    by = {}
    for r in rows:
        by.setdefault(r["model"], {})[r["dtype"]] = r
    for model, d in by.items():
        cells = []
        for dt in ("float32", "float64"):
            r = d.get(dt)
            cells += ["—", "—"] if r is None else [f"{1e3 * r['seconds_per_it']:.1f}",
                                                   "—" if r["ratio"] is None else f"{r['ratio']:.2f}"]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
