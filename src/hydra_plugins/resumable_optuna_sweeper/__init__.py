"""Hydra's Optuna sweeper, made resumable (``_sweeper.py``). Hydra finds it here: plugins live in ``hydra_plugins``.

Hydra imports every module of ``hydra_plugins`` whose name does not start with an underscore on every run, and
registers a plugin under the module that defines it, which conf/hparams_search/optuna.yaml names. The class lives in
``_sweeper.py`` so that it is imported only from here, and only where the `optuna` extra installed the sweeper it
extends: without it, a failing import would print a warning on every run.
"""

import importlib.util

__all__ = ["ResumableOptunaSweeper"]

if importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is not None:
    from hydra_plugins.resumable_optuna_sweeper._sweeper import ResumableOptunaSweeper
