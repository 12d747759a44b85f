"""The one kind of error a person fixes rather than debugs: a bad value, a missing file, a diverging run.

``train.py`` prints it in one line, ``error: ...``, and exits non-zero; ``HYDRA_FULL_ERROR=1`` shows the traceback.
"""


class UserError(Exception):
    """A problem with what the user asked for, explained in one line that says what to do instead."""
