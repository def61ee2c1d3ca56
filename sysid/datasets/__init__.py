"""Simulated systems of the seed documents and loaders for benchmark files (no torch)."""

from ._files import read_data
from ._irregular import IrregularBatch, batch_records, irregular_subset
from ._loaders import Benchmark, cascaded_tanks, f16, silverbox
from ._systems import (SimulatedData, center, closed_loop_positioner, damped_oscillator, fourth_order_plant, pendulum,
                       spiral_source)

__all__ = ["SimulatedData", "spiral_source", "center", "pendulum", "fourth_order_plant", "damped_oscillator",
           "closed_loop_positioner",
           "Benchmark", "cascaded_tanks", "silverbox", "f16", "read_data",
           "irregular_subset", "IrregularBatch", "batch_records"]
