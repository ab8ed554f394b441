"""Suite-wide hooks."""

from __future__ import annotations

import sys

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Close the two /dev/null files llama-cpp-python opens at import and never closes.

    Otherwise the interpreter reports them as unclosed (a ResourceWarning) at exit,
    after the suite has finished; nothing loads a model after this point.
    """
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None:
            handle.close()
