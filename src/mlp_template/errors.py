"""The one kind of error a person fixes rather than debugs: a bad value, a missing file, a diverging run.

``train.py`` prints it in one line, ``error: ...``, and exits non-zero; ``HYDRA_FULL_ERROR=1`` shows the traceback.
"""

import os
import sys
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
