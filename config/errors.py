"""The configuration error: one exception for every bad setting, file or flag."""

from __future__ import annotations

from collections.abc import Iterable

from aiway.actors.errors import AiwayError


class ConfigError(AiwayError):
    """The settings could not be loaded.

    Each problem is one line that names the key, where its value came from (a
    file and line, an environment variable or a flag) and what is allowed. All
    the problems found in one load are reported together, so a user fixes a
    config file in one pass rather than one error at a time.
    """

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("\n".join(self.problems))
