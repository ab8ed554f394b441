"""The files the history writes besides its database: private modes, and exports that stay put.

Everything the store puts on disk is the owner's alone: files 0600, aiway's
own directory 0700, and an existing file found looser is tightened when the
history opens. An export is written by ``write_export``, which never follows a
symbolic link at the last step, never replaces a file unless asked
(``force``), writes only to a regular file (a FIFO or a device is refused at
once, without blocking: the open is non-blocking and the opened file is
checked with ``fstat`` before a byte goes in), and creates it 0600. An export
asked for by a remote surface goes only into the ``exports`` folder beside the
database (``remote_export_path``): a bare file name, nothing above it, and that
folder itself opened without following a link.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from pathlib import Path
from typing import Final

from aiway.actors.store.errors import StoreError

log = logging.getLogger(__name__)

PRIVATE_FILE: Final = 0o600
"""Mode of every file the history writes (database, journal, backups, exports)."""
PRIVATE_DIR: Final = 0o700
"""Mode of the directories it creates (and of aiway's own data directory)."""
EXPORTS: Final = "exports"
"""The folder, beside the database, that remote surfaces export into."""
OWN_DIRECTORY: Final = "aiway"
"""An existing directory of this name holding the database is aiway's: it is tightened to 0700."""

_NAME_BYTES: Final = 255


class ExportRefused(StoreError):
    """An export target that is not allowed: outside the exports folder, a link, not a file."""


def tighten(path: Path, mode: int) -> bool:
    """Take every permission beyond ``mode`` away from ``path`` (if it exists and is ours).

    Never follows a symbolic link; returns whether it changed anything.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        return False
    current = stat.S_IMODE(info.st_mode)
    if current & ~mode == 0:
        return False
    os.chmod(path, current & mode)
    log.info("%s was mode %o; now %o", path, current, current & mode)
    return True


def private_directory(directory: Path) -> None:
    """Create ``directory`` 0700 (and its missing parents); tighten it if it is aiway's own.

    A directory of another name (``history.path`` pointed somewhere shared)
    keeps its mode: changing it could break other programs; a warning says so.
    """
    directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if directory.name == OWN_DIRECTORY:
        tighten(directory, PRIVATE_DIR)
    elif stat.S_IMODE(directory.stat().st_mode) & 0o077:
        log.warning(
            "the history's directory %s can be listed by others: the files in it are 0600, "
            "but their names show; set history.path inside a private directory",
            directory,
        )


def remote_export_path(database: Path, name: str) -> Path:
    """Where a remote surface's ``/export NAME`` goes: ``exports/NAME`` beside ``database``.

    Raises ``ExportRefused`` for anything but a plain file name.
    """
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\0" in name
        or len(name.encode("utf-8", "surrogateescape")) > _NAME_BYTES
    ):
        raise ExportRefused(
            f"/export from a remote surface takes a file name only (no folders, no '..'), "
            f"written under {database.parent / EXPORTS}; not {name[:80]!r}"
        )
    return database.parent / EXPORTS / name


def write_export(path: Path, text: str, *, force: bool = False, confined: bool = False) -> None:
    """Write ``text`` to ``path`` as a new private (0600) regular file.

    ``force`` replaces an existing regular file (never a link, a FIFO or a
    device). ``confined``: ``path``'s folder must be a real directory (not a
    link), created 0700 if missing; otherwise missing folders are created
    0700 and existing ones are taken as they are (the person typed them).
    Never blocks on a FIFO. Raises ``ExportRefused`` or ``StoreError``.
    """
    data = text.encode("utf-8")
    try:
        folder = _open_folder(path.parent, confined)
    except OSError as exc:
        raise StoreError(
            f"could not open the folder {path.parent} for the export: {exc.strerror}"
        ) from None
    try:
        fd = _open_target(folder, path, force)
        try:
            _check_regular(fd, path)
            if force:
                os.ftruncate(fd, 0)
            os.fchmod(fd, PRIVATE_FILE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            raise StoreError(f"could not write the export to {path}: {exc.strerror}") from None
        finally:
            os.close(fd)
    finally:
        os.close(folder)


def _open_folder(folder: Path, confined: bool) -> int:
    if confined:
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        try:
            return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise ExportRefused(
                    f"the exports folder {folder} is a link or not a folder; "
                    "aiway writes exports only into a real folder: remove it"
                ) from None
            raise
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=PRIVATE_DIR, parents=True)
    return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _open_target(folder: int, path: Path, force: bool) -> int:
    """Open the export file inside ``folder`` by its last name, never following a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    if not force:
        flags |= os.O_EXCL
    try:
        return os.open(path.name, flags, PRIVATE_FILE, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise ExportRefused(
                f"{path} already exists; aiway does not replace it: choose another name, "
                "or add --force to replace it"
            ) from None
        if exc.errno == errno.ELOOP:
            raise ExportRefused(
                f"{path} is a symbolic link; aiway does not write through links: give the real path"
            ) from None
        if exc.errno in (errno.ENXIO, errno.ENODEV, errno.EISDIR, errno.ETXTBSY):
            raise ExportRefused(
                f"{path} is not a regular file ({exc.strerror}); an export goes only to a "
                "regular file: choose another name"
            ) from None
        raise StoreError(f"could not write the export to {path}: {exc.strerror}") from None


def _check_regular(fd: int, path: Path) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise ExportRefused(
            f"{path} is not a regular file; an export goes only to a regular file: "
            "choose another name"
        )
    if info.st_nlink > 1:
        raise ExportRefused(
            f"{path} has other names (hard links); replacing it would change them too: "
            "choose another name"
        )
