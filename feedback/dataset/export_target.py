"""Where an export is written: checked first, written aside, moved into place at the end.

A folder export needs a new or empty folder (``overwrite`` replaces a folder that holds only
.json files); a file export needs a new file (``overwrite`` replaces it). Everything is first
written next to OUT under a hidden ``.partial`` name and renamed into place when complete, so a
failed or interrupted export never leaves a half-written OUT, nor mixes old files with new.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import (
    ERR_OUT_EXISTS,
    ERR_OUT_FOREIGN,
    ERR_OUT_IS_FILE,
    ERR_OUT_IS_FOLDER,
    ERR_OUT_NOT_EMPTY,
    ERR_OUT_UNWRITABLE,
    ExportTargetError,
    os_reason,
)
from .source import display_name


def _refuse(message, **params) -> ExportTargetError:
    return ExportTargetError(message=str(message) % {k: display_name(str(v)) for k, v in params.items()})


def check_target(out: Path, fmt: str, *, overwrite: bool) -> None:
    """Refuse an OUT the export cannot (or may not) use, before anything is selected or audited."""
    try:
        if fmt == "folder":
            if out.exists() and not out.is_dir():
                raise _refuse(ERR_OUT_IS_FILE, path=out)
            if out.is_dir():
                entries = sorted(out.iterdir())
                foreign = next((e for e in entries if not (e.is_file() and e.suffix == ".json")), None)
                if entries and not overwrite:
                    raise _refuse(ERR_OUT_NOT_EMPTY, path=out, n=len(entries))
                if foreign is not None:
                    raise _refuse(ERR_OUT_FOREIGN, path=out, name=foreign.name)
        else:
            if out.is_dir():
                raise _refuse(ERR_OUT_IS_FOLDER, path=out, fmt=fmt)
            if out.exists() and not overwrite:
                raise _refuse(ERR_OUT_EXISTS, path=out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(out.parent, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise _refuse(ERR_OUT_UNWRITABLE, path=out, detail=os_reason(exc)) from None


def _aside(out: Path, what: str) -> Path:
    return out.parent / f".{out.name}.{what}-{uuid.uuid4().hex[:8]}"


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A fresh folder to write into; it becomes ``out`` when the block ends without an error."""
    stage = _aside(out, "partial")
    try:
        stage.mkdir()
        yield stage
        old = None
        if out.exists():
            old = _aside(out, "old")
            out.rename(old)
        stage.rename(out)
        if old is not None:
            shutil.rmtree(old)
    except OSError as exc:
        raise _refuse(ERR_OUT_UNWRITABLE, path=out, detail=os_reason(exc)) from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


@contextmanager
def staged_file(out: Path) -> Iterator[BinaryIO]:
    """A file to write; it replaces ``out`` when the block ends without an error."""
    stage = _aside(out, "partial")
    try:
        with stage.open("wb") as fh:
            yield fh
        os.replace(stage, out)
    except OSError as exc:
        raise _refuse(ERR_OUT_UNWRITABLE, path=out, detail=os_reason(exc)) from None
    finally:
        stage.unlink(missing_ok=True)
