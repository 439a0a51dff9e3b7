"""Where the SQLite store lives on disk: the lock on its directory, the identity of its files, a fresh
store created without a 0-byte window, and what an OS error at open means in plain words.

One store is three files in the data directory: `qbittorrent-monitor.db`, its `-wal` (commits not yet
copied into the db) and its `-shm` (the index of the wal that every connection shares). Any of them
can be deleted, or replaced by a rename over it, under a running service, which then writes on into
files nobody will open again. That shapes two choices here:

- One service per store: an exclusive flock on the data directory itself. A lock on a `.lock` file is
  lost with that file; a lock on the db file is lost when the db is renamed over, and a second service
  would then pair the new db with the running one's -wal and -shm (the mispairing SQLite documents
  as corruption). The directory stays the same object whatever happens to the files in it: only
  removing or renaming the directory (the whole store) frees the lock, and then nothing of the old
  store is left beside the new one. The kernel drops the lock when the holder dies, even by SIGKILL.
- `Identities`: (st_dev, st_ino) of each file once the store is open, so that the service can notice
  that a path leads nowhere or to another file now (SQLiteStore.check).
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import stat
from collections.abc import Iterable
from pathlib import Path

from .base import StoreError

Identity = tuple[int, int]  # (st_dev, st_ino)


def identity_of(path: Path) -> Identity | None:
    """The identity of the file at `path`, or None when nothing is there."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_dev, st.st_ino)


class Identities:
    """The identities of `paths` as they are now (those that exist); `changed()` names the first one
    that has gone or is another file since."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.recorded = {p: i for p in paths if (i := identity_of(p)) is not None}

    def changed(self) -> tuple[str, Path] | None:
        """(`deleted` or `replaced`, path) of the first recorded path that changed, else None."""
        for path, recorded in self.recorded.items():
            now = identity_of(path)
            if now != recorded:
                return ("deleted" if now is None else "replaced", path)
        return None


class DirectoryLock:
    """An exclusive flock on `directory`, held until close(); `store` names the store in the message."""

    def __init__(self, directory: Path, store: Path) -> None:
        try:
            self.fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise StoreError(f"cannot open the data directory {directory}: {exc.strerror}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self.fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StoreError(
                    f"store {store} is in use by another qbittorrent-monitor (one service per --data.dir)"
                ) from None
            raise StoreError(f"cannot lock the data directory {directory}: {exc.strerror}") from None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the flock
            self.fd = -1


def make_directory(directory: Path) -> None:
    """Create the data directory (and its parents) unless it is there; StoreError naming the cause."""
    if directory.is_dir():
        return
    if directory.exists():
        raise StoreError(f"the data directory {directory} is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except NotADirectoryError:
        blocker = next((p for p in reversed(directory.parents) if p.exists() and not p.is_dir()), None)
        raise StoreError(
            f"cannot create the data directory {directory}: {blocker or 'a part of it'} is not a directory"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {directory}: {exc.strerror}") from None


def unwritable(path: Path) -> str:
    """Why this process cannot write `path` (a file, or a directory: create files in it), or ''.

    os.access tells whether; the file system's flags tell a read-only mount (which stops root too)
    from missing permission."""
    if os.access(path, os.W_OK):
        return ""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    except OSError:
        pass
    return f"permission denied for uid {os.getuid()}"


def sidecar(path: Path, suffix: str) -> Path:
    """`path` + `-wal` or `-shm`: the files SQLite keeps beside a db in WAL mode."""
    return path.with_name(path.name + suffix)


def refuse_non_store(path: Path) -> None:
    """StoreError if the file at `path` cannot be a store: not a regular file, or empty (which a store
    this service made never is: create_store_file)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"store {path} is not a regular file: move it away to start afresh")
    if st.st_size == 0:
        raise StoreError(
            f"store {path} is empty: it is not a store this service wrote (a fresh one never is); "
            "move it away to start afresh"
        )


def unwritable_store(path: Path) -> str:
    """What stops this process from writing the store at `path` ('' if nothing does): SQLite needs
    the file and, to create its -wal and -shm, the directory."""
    if why := unwritable(path.parent):
        return (
            f"the data directory {path.parent} is not writable ({why}): the store needs "
            f"{sidecar(path, '-wal').name} and {sidecar(path, '-shm').name} beside {path.name}"
        )
    if why := unwritable(path):
        return f"store {path} is not writable ({why})"
    return ""


def create_store_file(path: Path) -> None:
    """An empty SQLite database at `path`, where there is no file yet.

    Refused when the directory cannot be written, or when a non-empty -wal is there without its db:
    SQLite would replay those commits into the fresh db (it pairs a db and a -wal by name only).
    The db is written and synced beside `path`, then hard-linked into place (a link never replaces a
    file), so there is never a 0-byte file at `path`, not even after a crash or power loss while it
    is created: a 0-byte file where a store should be is never one this service made."""
    wal, shm = sidecar(path, "-wal"), sidecar(path, "-shm")
    if wal.is_file() and wal.stat().st_size > 0:
        raise StoreError(
            f"store {path} is missing but its write-ahead log {wal.name} is there (the store was "
            f"deleted or moved without it): put the store back, or move {wal.name} and {shm.name} "
            "away to start afresh"
        )
    if why := unwritable(path.parent):
        raise StoreError(f"cannot create the store {path}: the data directory is not writable ({why})")
    scratch = path.with_name(f"{path.name}.new-{os.getpid()}")
    scratch.unlink(missing_ok=True)  # this process's own leftover, never a store
    try:
        db = sqlite3.connect(scratch)
        try:
            db.execute("PRAGMA user_version = 0")  # writes the header page
        finally:
            db.close()
        _fsync(scratch, os.O_RDONLY)
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass  # another opener created it meanwhile: use that one
        _fsync(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    finally:
        scratch.unlink(missing_ok=True)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
