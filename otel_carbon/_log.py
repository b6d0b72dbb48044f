"""Log a failure once per key, so a broken input cannot flood the host app's logs."""

from __future__ import annotations

import logging
import threading

_seen: set[str] = set()
_lock = threading.Lock()


def log_once(logger: logging.Logger, key: str, message: str, *args: object, exc_info: bool = False,
             level: int = logging.WARNING) -> bool:
    """Log ``message`` at ``level`` (WARNING: a failure) the first time ``key`` is seen; return whether it was logged.

    Facts about the machine that are no failure (no GPU, no RAPL permission, an assumed CPU power)
    are logged at INFO.  Callers must not put secrets in ``message``: it may be shown to operators.
    """
    with _lock:
        if key in _seen:
            return False
        _seen.add(key)
    logger.log(level, message, *args, exc_info=exc_info)
    return True
