"""Supervision: what happens when a handler raises, and how fast it may retry."""

from __future__ import annotations

import enum
import logging
import traceback
from collections import deque

import attrs

from aiway.actors.runtime.messages import ActorFailed

log = logging.getLogger(__name__)


class Directive(enum.Enum):
    """What a supervisor does with an actor whose handler raised."""

    RESTART = "restart"  #: rebuild the behaviour after a backoff
    STOP = "stop"  #: stop the actor
    ESCALATE = "escalate"  #: stop it and fail its parent (the system, for top-level actors)


@attrs.frozen(slots=True)
class SupervisorPolicy:
    """Restart policy of one actor: exponential backoff, capped restarts per window."""

    directive: Directive = Directive.RESTART
    max_restarts: int = 5
    window_seconds: float = 60.0
    backoff_initial: float = 0.05
    backoff_max: float = 5.0
    backoff_factor: float = 2.0
    #: what happens once max_restarts is exceeded within the window
    exhausted: Directive = Directive.STOP


class RestartTracker:
    """Counts restarts within the sliding window and computes the next backoff."""

    __slots__ = ("_times", "policy")

    def __init__(self, policy: SupervisorPolicy) -> None:
        self.policy = policy
        self._times: deque[float] = deque()

    def next_backoff(self, now: float) -> float | None:
        """Register one failure at ``now``: the delay before restarting, or None when exhausted."""
        window_start = now - self.policy.window_seconds
        while self._times and self._times[0] < window_start:
            self._times.popleft()
        if len(self._times) >= self.policy.max_restarts:
            return None
        self._times.append(now)
        attempt = len(self._times) - 1
        delay = self.policy.backoff_initial * self.policy.backoff_factor**attempt
        return min(delay, self.policy.backoff_max)

    @property
    def restarts(self) -> int:
        """Restarts counted in the current window."""
        return len(self._times)


def judge_failure(
    name: str, exc: BaseException, policy: SupervisorPolicy, tracker: RestartTracker, now: float
) -> tuple[Directive, float | None, ActorFailed]:
    """What a supervisor does about a handler of ``name`` that raised ``exc`` at ``now``.

    Logs the traceback and returns the directive (RESTART only while restarts
    remain in the window, else ``policy.exhausted``), the backoff delay for a
    restart, and the ``ActorFailed`` report for surfaces. Both hosts use it, so
    the same failure is handled the same way on either.
    """
    text = "".join(traceback.format_exception(exc))
    log.error("actor %s failed:\n%s", name, text)
    directive = policy.directive
    delay: float | None = None
    if directive is Directive.RESTART:
        delay = tracker.next_backoff(now)
        if delay is None:
            directive = policy.exhausted
    report = ActorFailed(
        actor=name,
        error=f"{type(exc).__name__}: {exc}",
        traceback=text,
        action=directive.value,
        restarts=tracker.restarts,
    )
    return directive, delay, report
