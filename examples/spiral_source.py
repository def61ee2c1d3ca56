"""The seed study on the spiral source ẏ = A y, A = [[−0.1, 2], [−2, −0.1]], y0 = (2, 0).

NN step, matrix step, NeuralODE and NeuralODE matrix on the seed's grid t = linspace(0, 4, 8):
prints the loss/time table and the learned matrices next to the true ones, saves figures.

    python examples/spiral_source.py [--out out/] [--full]
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
    p.add_argument("--full", action="store_true", help="longer training of the nonlinear methods")
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    d = datasets.spiral_source()
    return run("spiral", d, d, epochs=args.epochs or (3000 if args.full else 300), out=args.out)


if __name__ == "__main__":
    main()
