"""Claims: two runs into one results folder never execute the same job twice.

Before a job starts, the driver claims it: an exclusive, non-blocking ``flock`` on a hidden file beside the job's
record (``.<record name>.claim``). The lock belongs to the open file descriptor, so it is released when the driver
has written the record and, by the kernel, whenever the driver dies, even by ``kill -9``: a claim never outlives
its run and there is no stale lock to clean up. A run that finds a job claimed leaves it to the run holding it.
The claim file names the holder (host and pid) for a curious user. Where ``fcntl`` does not exist (Windows) every
claim succeeds: one run per results folder there.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def claim_path(record_path: str | Path) -> Path:
    record = Path(record_path)
    return record.with_name(f".{record.name}.claim")


class Claims:
    """The claims one run holds, by record path."""

    def __init__(self) -> None:
        self._held: dict[str, int] = {}

    def take(self, record_path: str | Path) -> bool:
        """Claim a job; False when another process holds it."""
        key = str(record_path)
        if key in self._held:
            return True
        path = claim_path(record_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is None:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:  # the holder before us may have removed the file after we opened it: then lock the new one
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} pid {os.getpid()}\n".encode())
        self._held[key] = fd
        return True

    def release(self, record_path: str | Path) -> None:
        fd = self._held.pop(str(record_path), None)
        if fd is None:
            return
        try:
            claim_path(record_path).unlink(missing_ok=True)  # removed while locked, so no one locks a stale inode
        finally:
            os.close(fd)

    def release_all(self) -> None:
        for key in list(self._held):
            self.release(key)
