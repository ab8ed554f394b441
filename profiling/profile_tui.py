"""Profile scenario ``tui``: the terminal UI in a pseudo-terminal while an answer streams.

Not written yet. The TUI (``ui/tui``) runs curses in the main thread and the
actors in a second one, so the capture has to come from the ``aiway`` process
itself (``memray run`` on it, in a pseudo-terminal, driven like the tmux
end-to-end tests), and its start-up has to be told apart from the streaming.
Until then this scenario reports itself unavailable; ``wrap`` profiles the
curses-free renderer.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from profiling.profile import Tracking, Unavailable, scenario_main

UNIT = "token"


def play(tracking: Tracking, quick: bool, variant: str | None) -> int:
    raise Unavailable(
        "profiling the TUI process in a pseudo-terminal is not written yet; "
        "see `wrap` for the renderer"
    )


def main(argv: Sequence[str] | None = None) -> int:
    return scenario_main("tui", argv)


if __name__ == "__main__":
    sys.exit(main())
