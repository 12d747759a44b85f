"""The one kind of error a person fixes rather than debugs: a bad value, a missing file, a diverging run.

``train.py`` prints it in one line, ``error: ...``, and exits non-zero; ``HYDRA_FULL_ERROR=1`` shows the traceback.
And the warnings a person cannot act on, which the programs (``train.py``, ``eval.py``) keep off the screen.
"""

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf.errors import MissingMandatoryValue


class UserError(Exception):
    """A problem with what the user asked for, explained in one line that says what to do instead."""


@contextmanager
def one_line_errors() -> Iterator[None]:
    """A ``UserError`` ends the program with ``error: <message>`` and exit code 1; ``HYDRA_FULL_ERROR=1`` re-raises.

    A required key left out (``???`` in the yaml) is a user's mistake too.
    """
    try:
        yield
    except (UserError, MissingMandatoryValue) as e:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        missing = isinstance(e, MissingMandatoryValue)
        sys.exit(f"error: {e.full_key}=...: required, give it on the command line" if missing else f"error: {e}")


def quiet_warnings_nobody_can_act_on() -> None:
    """Process-wide filters, set by the programs (not on import): each matched narrowly, so any other warning shows."""
    from lightning.pytorch.utilities.warnings import PossibleUserWarning  # here: serving never imports Lightning

    # Lightning 2.6 still builds torch's LeafSpec, which torch 2.14 deprecates: about Lightning's own code.
    warnings.filterwarnings("ignore", r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning,
                            module=r"lightning\.pytorch\.utilities\._pytree")
    # Under DDP, Lightning suggests sync_dist=True for every epoch value logged; ours are torchmetrics results that
    # compute() has already reduced across ranks (module.py).
    warnings.filterwarnings("ignore", "It is recommended to use `self.log", PossibleUserWarning)
    # Nothing is logged per step (every curve has the epoch as its x-axis), so Lightning's advice for epochs shorter
    # than log_every_n_steps does not apply.
    warnings.filterwarnings("ignore", "The number of training batches", PossibleUserWarning)
