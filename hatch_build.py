"""Compiles the mailbox's C core (actors/runtime/_lane.c) when the wheel is built.

One C file, no library: the C compiler and flags Python itself was built with
(``sysconfig``'s ``LDSHARED`` and ``CCSHARED``) compile and link it in one step.
An editable install puts the module next to its source, where the import finds
it; a wheel gets it under ``aiway/actors/runtime/`` and a platform tag.
"""

from __future__ import annotations

import shlex
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("actors") / "runtime" / "_lane.c"
IN_WHEEL = "aiway/actors/runtime/_lane"


def compile_lane(root: Path, out: Path) -> None:
    """Compile ``SOURCE`` under ``root`` into the extension module ``out``."""
    link = shlex.split(sysconfig.get_config_var("LDSHARED") or "cc -shared")
    shared = shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC")
    include = sysconfig.get_paths()["include"]
    command = [
        *link, *shared, "-O3", "-DNDEBUG", "-Wall",
        f"-I{include}", str(root / SOURCE), "-o", str(out),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise RuntimeError(
            f"aiway's mailbox core needs a C compiler ({command[0]} was not found): "
            "install gcc or clang, then install aiway again"
        ) from exc
    if done.returncode != 0:
        raise RuntimeError(
            f"aiway's mailbox core ({SOURCE}) did not compile; it needs a C compiler and "
            f"Python's headers (python3-dev or python3-devel).\n$ {shlex.join(command)}\n"
            f"{done.stderr.strip()}"
        )


class LaneHook(BuildHookInterface):  # type: ignore[type-arg]  # generic in its config
    """Builds ``_lane`` for the wheel and for editable installs."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        if version == "editable":
            compile_lane(root, (root / SOURCE).with_name("_lane" + suffix))
        else:
            out = Path(tempfile.mkdtemp(prefix="aiway-lane-")) / ("_lane" + suffix)
            compile_lane(root, out)
            build_data["force_include"][str(out)] = IN_WHEEL + suffix
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
