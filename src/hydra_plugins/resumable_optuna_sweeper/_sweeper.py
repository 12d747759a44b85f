"""Hydra's Optuna sweeper, made to continue the study stored on disk: a re-run after a crash finishes the search.

hydra-optuna-sweeper 1.3 already reopens a stored study (``load_if_exists``), but on a re-run it asks for
``n_trials`` *more* trials, and its sampler, seeded as in the first run, replays the first run's random draws: the
same hyperparameters again. This subclass changes that: ``n_trials`` is the number of completed trials the study
should hold, trials cut off by the crash are marked failed, and the sampler gets fresh draws. It also settles an
``optimized_direction`` left null (the task's own, for a CSV whose target decides the task) by reading the data once.
"""

import logging
import sys
from pathlib import Path

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

log = logging.getLogger(__name__)


class ResumableOptunaSweeper(OptunaSweeper):
    """``OptunaSweeper`` whose ``n_trials`` counts the study's completed trials, old and new."""

    def sweep(self, arguments: list[str]) -> None:
        import optuna  # here, not at the top: Hydra imports plugin modules on every start, sweeping or not
        from optuna.trial import TrialState

        search = self.sweeper  # the plugin's implementation, which runs the search loop
        if search.direction is None:  # optimized_direction: null, the task's own (data=csv: its target decides)
            from mlp_template.errors import UserError
            from mlp_template.objective import multirun_objective

            try:
                search.direction = multirun_objective(search.config)[1]
            except UserError as e:  # data every trial would refuse: one line, as train.py says it
                sys.exit(f"error: {e}")
        if search.storage is None:  # an in-memory study: nothing to continue
            return super().sweep(arguments)
        if str(search.storage).startswith("sqlite:///"):  # SQLite creates the file, not its folder
            Path(str(search.storage).removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            study = optuna.load_study(study_name=search.study_name, storage=search.storage)
        except KeyError:  # no such study yet: a first run
            return super().sweep(arguments)
        # One sweep per study at a time, so a trial still RUNNING now was cut off when the last sweep died.
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study.tell(trial.number, state=TrialState.FAIL)
            log.warning(f"Trial {trial.number} was cut off when the last sweep stopped: marked FAIL")
        completed = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        log.info(f"Study {study.study_name} holds {completed} completed trials of {search.n_trials}")
        search.n_trials = max(search.n_trials - completed, 0)
        search.job_idx = len(study.trials)  # job number = trial number: trial_<n> folders are never reused
        if hasattr(search.sampler, "reseed_rng"):  # Optuna's own cure for samplers that would repeat their draws
            search.sampler.reseed_rng()
        return super().sweep(arguments)
