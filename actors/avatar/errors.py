"""The avatar package's errors: a sprite file that does not parse or validate."""

from __future__ import annotations

from aiway.actors.errors import AiwayError


class SpriteError(AiwayError):
    """A sprite file is malformed. The message starts with ``file:line:``."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem
