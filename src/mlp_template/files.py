"""The checks every program's input and output paths go through, so a wrong path is one line, never a traceback:
missing, empty, a folder where a file is wanted, not UTF-8, an output that is a folder or in no folder.

No Lightning here: predict.py, export.py and generate.py start without it.
"""

import os
from pathlib import Path

from mlp_template.errors import UserError


class FileError(UserError):
    """A path the user gave that cannot be read or written as asked."""


def input_file(value: str | Path, key: str, kind: str, needs: str, folder: bool = False) -> Path:
    """``value`` as a path to read: an existing, non-empty file (or, with ``folder``, a folder), else a one-line
    ``FileError`` naming ``key=value``. ``kind`` is what to give instead of a folder (``a CSV file``); ``needs`` what
    an empty file lacks (``a CSV needs a header row and rows of values``)."""
    path, where = Path(str(value)), f"{key}={value}"
    if not str(value).strip():
        raise FileError(f"{where}: empty; give {kind}")
    if not path.exists():
        raise FileError(f"{where}: no such file{' or folder' if folder else ''}")
    if path.is_dir() and not folder:
        raise FileError(f"{where}: is a folder; give {kind}")
    if path.is_file() and path.stat().st_size == 0:
        raise FileError(f"{where}: the file is empty; {needs}")
    if not (path.is_file() or path.is_dir()):  # a device or a pipe: nothing a program reads twice
        raise FileError(f"{where}: not a regular file; give {kind}")
    if not os.access(path, os.R_OK):
        raise FileError(f"{where}: cannot be read (permission denied)")
    return path


def utf8_lines(path: Path, key: str) -> list[str]:
    """A text file's lines, or a one-line ``FileError`` that names where it is not UTF-8 and what to do."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")  # not "utf-8-sig", whose error positions skip the byte-order mark
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise FileError(f"{key}={path}: not UTF-8 text (byte 0x{data[e.start]:02x} on line {line}, as an editor "
                        "saving Latin-1 or Windows-1252 writes it); save it as UTF-8") from e
    return text.removeprefix("\ufeff").splitlines()  # the mark "CSV UTF-8" exports begin with


def output_file(value: str | Path, key: str, example: str) -> Path:
    """``value`` as a file to write: not a folder, in an existing folder this process may write in, else a one-line
    ``FileError`` naming ``key=value``; ``example`` is a file name to suggest (``predictions.csv``)."""
    path, where = Path(str(value)), f"{key}={value}"
    if path.is_dir() or str(value).endswith(("/", os.sep)):
        raise FileError(f"{where}: is a folder; give a file name, e.g. {key}={path / example}")
    folder = path.parent
    if not folder.exists():
        raise FileError(f"{where}: no folder {folder} to write into; create it first (mkdir -p {folder}), or give "
                        "a path in an existing folder")
    if not folder.is_dir():
        raise FileError(f"{where}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise FileError(f"{where}: cannot be written here (permission denied)")
    return path


def output_folder(value: str | Path, key: str) -> Path:
    """``value`` as a folder to write into, made if missing: not a file, under no file, writable; else a one-line
    ``FileError`` naming ``key=value``."""
    path, where = Path(str(value)), f"{key}={value}"
    existing = next(folder for folder in (path, *path.parents) if folder.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        raise FileError(f"{where}: is a file; give a folder" if existing == path else
                        f"{where}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise FileError(f"{where}: cannot be written here (permission denied)")
    return path
