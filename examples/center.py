"""The seed study on the center ẏ1 = −0.1 y1 + 10 y2, ẏ2 = −10 y1 + 0.1 y2, y0 = (2, 2).

The seed's NN/matrix runs use t = linspace(0, 4, 8) (ω Δt ≈ 5.7 rad: the samples alias the
rotation, so only the one-step map expm(A·4/7) is identifiable there); its NeuralODE runs use
t = linspace(0, 0.5, 8), where A itself is recovered.

    python examples/center.py [--out out/] [--full]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _seed_study import run  # noqa: E402

from sysid import datasets  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out")
    p.add_argument("--full", action="store_true")
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    return run("center", datasets.center(grid="matrix"), datasets.center(grid="node"),
               epochs=args.epochs or (3000 if args.full else 300), out=args.out)


if __name__ == "__main__":
    main()
