"""hatch_build.py: the mailbox's C core compiles; a machine that cannot compile it is told why."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import hatch_build

ROOT = Path(__file__).resolve().parents[2]


def test_the_core_compiles_into_a_module_that_imports(tmp_path: Path) -> None:
    out = tmp_path / ("_lane" + sysconfig.get_config_var("EXT_SUFFIX"))
    hatch_build.compile_lane(ROOT, out)
    code = (
        "import importlib.util as u, sys; "
        f"s = u.spec_from_file_location('aiway.actors.runtime._lane', {str(out)!r}); "
        "m = u.module_from_spec(s); s.loader.exec_module(m); print(m.Lane.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "Lane", done.stderr


def test_no_compiler_is_a_short_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sysconfig.get_config_var
    monkeypatch.setattr(
        hatch_build.sysconfig,
        "get_config_var",
        lambda name: "no-such-cc -shared" if name == "LDSHARED" else real(name),
    )
    with pytest.raises(RuntimeError, match=r"needs a C compiler \(no-such-cc was not found\)"):
        hatch_build.compile_lane(ROOT, tmp_path / "x.so")


def test_source_that_does_not_compile_shows_the_command_and_the_compiler_output(
    tmp_path: Path,
) -> None:
    root = tmp_path / "tree"
    source = root / hatch_build.SOURCE
    source.parent.mkdir(parents=True)
    source.write_text("this is not C;\n")
    with pytest.raises(RuntimeError) as caught:
        hatch_build.compile_lane(root, tmp_path / "x.so")
    message = str(caught.value)
    assert "did not compile" in message
    assert "python3-dev" in message
    assert str(source) in message  # the command, as run
    assert "error" in message  # what the compiler said
