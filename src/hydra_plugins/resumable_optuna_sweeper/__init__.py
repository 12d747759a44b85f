"""Hydra's Optuna sweeper, made resumable (``sweeper.py``). Hydra finds it here: plugins live in ``hydra_plugins``."""

import importlib.util

__all__ = ["ResumableOptunaSweeper"]

# Hydra imports every hydra_plugins module at start-up. Without the `sweep` extra there is no Optuna sweeper to
# extend, and a failing import would print a warning on every run, so the class exists only when the plugin does.
if importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is not None:
    from hydra_plugins.resumable_optuna_sweeper.sweeper import ResumableOptunaSweeper
