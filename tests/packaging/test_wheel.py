"""The wheel a user installs: one import package with its compiled core, and it answers.

Builds the wheel from this checkout, installs it into a new virtual
environment the way a user would (``pip install aiway_assistant-*.whl``, its
dependencies from the package index), and runs the installed ``aiway``
against the fake Ollama server. Slow-ish (a venv and a few wheels, about
15 s), so all checks share one module-scoped install.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeOllamaProcess
from tests.fakes.isolated import isolated_env

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("aiway_assistant-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ directory of a new venv with the wheel installed (no extras)."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(home)
    done = subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "-q", "--only-binary=:all:",
         "--no-binary=npyscreen,thespian", str(wheel)],
        check=False, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return home / "bin"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllamaProcess]:
    with FakeOllamaProcess("--models", "tiny:latest", "--script", '["Hola ", "amigo."]') as fake:
        yield fake


def test_the_wheel_holds_one_import_package_and_its_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names}
    name, version, python, abi, platform = wheel.stem.split("-")
    assert tops == {"aiway", f"{name}-{version}.dist-info"}
    # the mailbox's C core is in it, so the tags name this Python and platform
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert f"aiway/actors/runtime/_lane{suffix}" in names
    assert python == abi == f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert platform != "any"
    assert not [n for n in names if n.endswith(".c")], "the wheel ships no C source"
    assert "aiway/py.typed" in names
    assert "aiway/config/persona.md" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    metadata = archive_text(wheel, "METADATA")
    assert "License-Expression: MIT" in metadata
    assert "Requires-Dist: llama-cpp-python" in metadata  # only as an extra:
    assert "llama-cpp-python>=0.3.7; extra == 'embedded'" in metadata
    assert "memray" not in metadata.split("Provides-Extra: dev")[0]


def archive_text(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (path,) = [n for n in archive.namelist() if n.endswith(f".dist-info/{name}")]
        return archive.read(path).decode()


def test_pip_check_passes_and_only_aiway_is_ours_in_site_packages(
    installed: Path, wheel: Path
) -> None:
    check = subprocess.run(
        [str(installed / "python"), "-m", "pip", "check"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout
    (site,) = installed.parent.glob("lib/python3*/site-packages")
    (dist_info,) = site.glob("aiway_assistant-*.dist-info")
    tops = {
        line.split("/")[0]
        for line in (dist_info / "RECORD").read_text().splitlines()
        if not line.startswith("../")  # the console script, in bin/
    }
    assert tops == {"aiway", dist_info.name}


def test_the_installed_mailbox_runs_on_its_compiled_core(installed: Path) -> None:
    code = (
        "from aiway.actors.runtime import _lane, mailbox; "
        "assert issubclass(mailbox.Mailbox, _lane.Lane); print(_lane.__file__)"
    )
    done = subprocess.run(
        [str(installed / "python"), "-c", code],
        check=False, capture_output=True, text=True, cwd=installed,  # not this checkout's
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "site-packages/aiway/actors/runtime/_lane" in done.stdout


def test_python_dash_m_aiway_prints_help(installed: Path) -> None:
    done = subprocess.run(
        [str(installed / "python"), "-m", "aiway", "--help"],
        check=False,
        capture_output=True,
        text=True,
        cwd=installed,  # -m looks in the working directory first: not this checkout
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: aiway")
    assert "headless" in done.stdout


def test_the_installed_aiway_answers_from_an_ollama_compatible_server(
    installed: Path, server: FakeOllamaProcess, tmp_path: Path
) -> None:
    done = subprocess.run(
        [str(installed / "aiway"), "headless", "--backend", "ollama", "--prompt", "hi"],
        check=False, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env=isolated_env(tmp_path, OLLAMA_HOST=server.url, AIWAY_OLLAMA_DEFAULT_MODEL="tiny"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Hola amigo." in done.stdout
