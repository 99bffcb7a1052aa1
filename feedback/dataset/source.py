"""Where an import reads its files: a folder (searched recursively) or a .zip of one.

Names are sorted by the number in them (``10.json`` after ``9.json``), names that are not
plain ASCII numbers after them alphabetically; any name is accepted (a file is imported by the
evaluation id inside it, whatever it is called). Names are shown with undecodable bytes
escaped, so printing them never fails.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from .errors import ERR_BAD_ZIP, ERR_NOT_FOUND, ERR_SOURCE_UNREADABLE, DatasetSourceError, os_reason, printable

# What reading one member of a damaged or unusual zip may raise.
ZIP_READ_ERRORS = (OSError, zipfile.BadZipFile, zlib.error, ValueError, NotImplementedError, RuntimeError, EOFError)


def display_name(name: str) -> str:
    """``name`` as a person can read and a terminal can print (undecodable bytes as ``\\xff``)."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return printable(name)


def sort_key(name: str) -> tuple[int, int, str]:
    stem = Path(name).stem
    if stem.isascii() and stem.isdigit():
        return (0, int(stem), name)
    return (1, 0, name)


def _is_json_member(name: str) -> bool:
    return name.endswith(".json") and not name.endswith("/") and not name.startswith("__MACOSX/")


def source_names(path: Path) -> tuple[str, list[str]]:
    """("folder"|"zip", the .json names in import order); DatasetSourceError if unusable."""
    try:
        if path.is_dir():
            names = [str(p.relative_to(path)) for p in path.rglob("*.json") if p.is_file()]
            return "folder", sorted(names, key=sort_key)
        if path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if _is_json_member(n)]
            return "zip", sorted(names, key=sort_key)
    except (OSError, *ZIP_READ_ERRORS) as exc:
        raise DatasetSourceError(
            message=str(ERR_SOURCE_UNREADABLE) % {"path": _p(path), "detail": os_reason(exc)}
        ) from None
    if path.is_file() and path.suffix == ".zip":
        raise DatasetSourceError(message=str(ERR_BAD_ZIP) % {"path": _p(path)})
    raise DatasetSourceError(message=str(ERR_NOT_FOUND) % {"path": _p(path)})


def _p(path: Path) -> str:
    return display_name(str(path))


def read_files(path: Path, kind: str, names: list[str]) -> Iterator[tuple[str, bytes | Exception]]:
    """(name, bytes) per file, or (name, the exception) for a file that cannot be read."""
    if kind == "folder":
        for name in names:
            try:
                yield name, (path / name).read_bytes()
            except OSError as exc:
                yield name, exc
        return
    with zipfile.ZipFile(path) as zf:
        for name in names:
            try:
                yield name, zf.read(name)
            except ZIP_READ_ERRORS as exc:
                yield name, exc
