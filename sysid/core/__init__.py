"""Core objects (numpy, scipy, python-control only): IOData, LureSystem, Δ, metrics, compare."""
