"""Secret files (generated SECRET_KEY, admin password) created owner-only from their first byte.

No Django here: the launcher uses it before settings exist.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_secret_file(path: Path, text: str, *, replace: bool = False) -> bool:
    """Write ``text`` to ``path`` with mode 0600, atomically: readers see the whole file or none,
    and no one else can ever open it. Without ``replace`` an existing file is kept (returns False)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)  # fails if the file exists: never overwrites, never half-written
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)
