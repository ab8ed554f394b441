"""The convention's secret file: made 0600 on first use; refused when others could know it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aiway.actors.runtime.thespian.secret import (
    SecretFileError,
    default_secret_path,
    load_secret,
)


def test_the_secret_is_made_on_first_use_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "aiway" / "thespian.secret"
    key = load_secret(path)
    assert len(key) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_secret(path) == key  # the same key on the next start


def test_the_default_secret_lives_beside_the_config(tmp_path: Path) -> None:
    path = default_secret_path({"XDG_CONFIG_HOME": str(tmp_path)})
    assert path == tmp_path / "aiway" / "thespian.secret"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_secret_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "thespian.secret"
    path.write_text("k" * 64)
    path.chmod(mode)
    with pytest.raises(SecretFileError, match="chmod 600"):
        load_secret(path)


def test_a_secret_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("giving a file to another user needs root")
    path = tmp_path / "thespian.secret"
    path.write_text("k" * 64)
    path.chmod(0o600)
    os.chown(path, 12345, -1)
    with pytest.raises(SecretFileError, match="uid 12345"):
        load_secret(path)


def test_a_symlinked_secret_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_text("k" * 64)
    real.chmod(0o600)
    link = tmp_path / "thespian.secret"
    link.symlink_to(real)
    with pytest.raises(SecretFileError, match="cannot open"):
        load_secret(link)


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "thespian.secret"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(SecretFileError, match="at least 32"):
        load_secret(path)


def test_a_missing_secret_a_member_must_copy_names_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match="copy it"):
        load_secret(tmp_path / "none", create=False)
