"""Replacing a file whole: readers see the old content or the new, never a part."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, suffix: str = ".tmp") -> None:
    """Replace ``path`` with ``data`` in one rename.

    The bytes go to a temporary file in the same folder (named ``.NAME.…SUFFIX``), are flushed to
    disk, and the file is renamed over ``path``; if anything fails the temporary file is removed
    and the error raised.  The folder itself is not synced: a caller that needs the rename to
    survive a power loss fsyncs the folder after.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
