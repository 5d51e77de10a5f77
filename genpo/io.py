"""Atomic writes: a file or a directory appears complete or not at all (write to a temporary
sibling, then rename into place). Imports nothing from genpo, so every layer can use it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path


def _sibling(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def atomic_directory(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp_dir), then move tmp_dir to `target`, replacing any previous `target`
    (removed only after the new one is complete). On failure nothing is left behind."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = _sibling(target, "tmp"), _sibling(target, "old")
    tmp.mkdir()
    try:
        write(tmp)
        if target.exists():
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:  # put the previous target back rather than lose it
            if old.exists():
                os.replace(old, target)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


def atomic_write_text(target: str | Path, text: str) -> Path:
    """Write `text` to `target` through a temporary sibling file and one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(target, "tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
