import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SYSID_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def data_dir():
    """The shared benchmark data folder; tests that need it skip only if it is absent."""
    if not DATA.is_dir():
        pytest.skip(f"benchmark data folder {DATA} is absent")
    return DATA


@pytest.fixture
def rng():
    return np.random.default_rng(0)
