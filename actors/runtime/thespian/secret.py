"""The convention's shared secret: a 0600 file, made on first use, that every member holds.

Thespian's TCP transport unpickles whatever reaches its ports, so aiway signs
each frame with a key every system of a convention shares (the way Erlang's
distribution shares a cookie). The key lives in a file:
``$XDG_CONFIG_HOME/aiway/thespian.secret`` by default, created on first use
with 32 random bytes (hex), readable by its owner only. Copy it to each
machine of the convention (same path, mode 0600). A file that anyone else may
read or write, or that another user owns, is refused: its key cannot be
trusted to be secret.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from aiway.actors.errors import AiwayError
from aiway.config.paths import default_config_path

#: the environment variable that tells Thespian's child processes where the secret is
SECRET_FILE_ENV = "AIWAY_THESPIAN_SECRET_FILE"
#: the shortest key accepted (characters of the file, whitespace stripped)
MIN_KEY_LENGTH = 32


class SecretFileError(AiwayError):
    """The secret file cannot be made, read or trusted (the message says what to do)."""


def default_secret_path(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/aiway/thespian.secret`` (usually ``~/.config/aiway/``)."""
    return default_config_path(env).parent / "thespian.secret"


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return  # another process made it first: read theirs
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_hex(32) + "\n")


def load_secret(path: Path, *, create: bool = True) -> bytes:
    """The key in ``path`` (created first when missing and ``create``).

    Raises ``SecretFileError`` when the file is missing (and not to be
    created), is a symlink or not a regular file, is owned by another user,
    has group or other permission bits, or holds fewer than 32 characters.
    """
    if create and not path.exists():
        try:
            _create(path)
        except OSError as exc:
            raise SecretFileError(f"cannot create the Thespian secret {path}: {exc}") from None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise SecretFileError(
            f"the Thespian secret {path} does not exist: copy it from the convention's leader"
        ) from None
    except OSError as exc:
        raise SecretFileError(f"cannot open the Thespian secret {path}: {exc}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SecretFileError(f"the Thespian secret {path} is not a regular file")
        if info.st_uid != os.getuid():
            raise SecretFileError(
                f"the Thespian secret {path} belongs to uid {info.st_uid}, not to you "
                f"(uid {os.getuid()}): use a file of your own"
            )
        if info.st_mode & 0o077:
            raise SecretFileError(
                f"the Thespian secret {path} is open to others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}): run chmod 600 {path}"
            )
        key = file.read(4096).strip()
    if len(key) < MIN_KEY_LENGTH:
        raise SecretFileError(
            f"the Thespian secret {path} holds {len(key)} characters; it needs at least "
            f"{MIN_KEY_LENGTH} (delete it and a new one is made on the next start)"
        )
    return key
