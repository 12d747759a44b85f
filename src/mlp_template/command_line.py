"""What every program (train.py, eval.py, predict.py, export.py, generate.py) does first, before its imports and
before Hydra: Ctrl-C from the first moment on is one line and exit code 130, and a value Hydra's override grammar
cannot read (spaces, brackets, letters beyond ASCII) is one line showing the quoted form to type.

Standard library only at import: it must be loaded, and the handler set, in milliseconds.
"""

import os
import re
import shlex
import signal
import sys
from functools import partial
from pathlib import Path
from types import FrameType

# What a shell's double quotes leave as typed: no $, backtick, backslash, ! or " inside.
DOUBLE_QUOTABLE = re.compile(r"[^$`\\!\"]*")


def start(args: list[str], resumable: bool = False) -> None:
    """Set the Ctrl-C handler, then refuse an override Hydra cannot parse, in one line (exit code 1).

    ``resumable``: the program is train.py, whose ``ckpt_path`` a stopped start-up can be resumed from.
    """
    typed = next((arg.split("=", 1)[1] for arg in args if arg.startswith("ckpt_path=")), None) if resumable else None
    typed = typed if typed == "last" or (typed and Path(typed).is_file()) else None
    signal.signal(signal.SIGINT, partial(stop_in_one_line, typed))
    line = quoting_advice(args)
    if line is not None:
        sys.exit(f"error: {line}")


def stop_in_one_line(typed: str | None, signum: int, frame: FrameType | None) -> None:
    """Ctrl-C outside training (start-up, imports, reading data, testing, serving): stop with one line, exit 130,
    and the resume command when train.py's run has a checkpoint (or, before Hydra started it, one was typed).

    During training, runs/interruption.py's handler takes over, saving a checkpoint first, and hands back after.
    """
    checkpoint = run_checkpoint() or typed
    hint = f"; resume with: python train.py ckpt_path={checkpoint}" if checkpoint else ""
    # os.write, not print: the handler may interrupt a print, and Python's buffered streams are not reentrant.
    os.write(2, f"\nstopped by {signal.Signals(signum).name} (Ctrl-C){hint}\n".encode())
    raise SystemExit(128 + signum)


def run_checkpoint() -> Path | None:
    """The training run's ``last.ckpt``, if Hydra has started a run and it has one."""
    hydra_config = sys.modules.get("hydra.core.hydra_config")  # not imported: no run started, nothing saved
    if hydra_config is None or not hydra_config.HydraConfig.initialized():
        return None
    hydra = hydra_config.HydraConfig.get()
    if hydra.job.config_name != "train":  # the serving programs run in no run folder of their own
        return None
    path = Path(hydra.runtime.output_dir) / "checkpoints" / "last.ckpt"
    return path.resolve() if path.is_file() else None


def quoting_advice(args: list[str]) -> str | None:
    """For the first ``key=value`` Hydra's grammar cannot parse but can once the value is quoted: the line that says
    so, with the argument to type; None if every argument parses (or quoting would not help: Hydra explains)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser  # after the handler: ~0.3 s to import
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for arg in args:
        key, equals, value = arg.partition("=")
        if arg.startswith("-") or not equals or value[:1] in ("[", "{", "'", '"'):  # an option, a list, a quote
            continue
        try:
            parser.parse_overrides([arg])
            continue
        except OverrideParseException:
            pass
        quoted = f"{key}={hydra_quoted(value)}"
        try:
            parser.parse_overrides([quoted])
        except OverrideParseException:
            return None
        return (f"{arg}: Hydra reads a value with spaces, brackets or letters beyond ASCII only in quotes; "
                f"type: {shell_quoted(quoted)}")
    return None


def hydra_quoted(value: str) -> str:
    """``value`` in the quotes of Hydra's override grammar: single, or double if it holds a single quote."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "'" + value.replace("'", "\\'") + "'"


def shell_quoted(arg: str) -> str:
    """``arg`` as typed in a shell: in double quotes when they keep it as it is (most readable), else shlex's."""
    return f'"{arg}"' if DOUBLE_QUOTABLE.fullmatch(arg) else shlex.quote(arg)
