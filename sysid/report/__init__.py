"""Studies from a configuration file and their reports (what ``sysid fit`` and ``sysid report`` run).

* :func:`load_config` reads a TOML study file (data, models, scoring) and checks it;
* :func:`run_study` fits every model, scores it on the test record, linearizes and certifies
  it, saves it, and writes ``run.json`` (plus ``run_data.npz`` with the signals);
* :func:`write_report` turns ``run.json`` into one self-contained HTML page and a markdown twin.

No torch at import; matplotlib only through :mod:`sysid.plot` when a report is written.
"""

from ._config import DATASETS, ESTIMATORS, ConfigError, check_config, load_config
from ._render import SECTIONS, RunFileError, read_run, write_report
from ._study import RUN_FORMAT, linearization_summary, load_study_data, make_estimator, modes, run_study

__all__ = ["load_config", "check_config", "run_study", "write_report", "read_run", "linearization_summary",
           "modes", "load_study_data", "make_estimator", "ConfigError", "RunFileError", "ESTIMATORS", "DATASETS",
           "SECTIONS", "RUN_FORMAT"]
