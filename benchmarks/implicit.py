"""Equilibrium-model benchmark: the study of examples/implicit_vs_lstm.py, written as JSON.

    python benchmarks/implicit.py            # default run (< 1 min)
    python benchmarks/implicit.py --full     # more epochs, ablation on every series, 200 monDEQ draws

Writes benchmarks/results/implicit.json (or implicit_full.json): R² of Implicit / LSTM / ARX /
persistence per series, fixed-point iterations per inference (Picard, Anderson, Broyden),
the three-forces ablation, the finite-depth table, the monDEQ random-draw count and the
targets of issue 12 (each true/false, with the crude-oil margin over persistence).
"""

import argparse
import importlib.util
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))


def _study():
    path = os.path.join(HERE, "..", "examples", "implicit_vs_lstm.py")
    spec = importlib.util.spec_from_file_location("implicit_vs_lstm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--figures", default=None, help="also save the figures to this folder")
    args = parser.parse_args(argv)
    result = _study().run(full=args.full, out=args.figures or "out", make_figures=args.figures is not None)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "implicit_full.json" if args.full else "implicit.json")
    with open(path, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
