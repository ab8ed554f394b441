"""The actor runtime: mailboxes, refs, behaviours, the asyncio host, supervision, bridge.

The Thespian host is in ``actors.runtime.hosts`` (imported on first use);
``BehaviourSpec``, the factory every host can build in any process, is here.
"""

from actors.runtime.behaviour import Behaviour, Context, EdgeActor, EdgeContext, TimerId, handles
from actors.runtime.bridge import ThreadBridge
from actors.runtime.errors import ActorStopped, AskTimeout, DuplicateActorName, MailboxFull
from actors.runtime.hosts import BehaviourSpec, SpecError
from actors.runtime.mailbox import (
    Delivery,
    LatencyHistogram,
    Mailbox,
    MailboxConfig,
    MailboxStats,
    OverflowPolicy,
)
from actors.runtime.messages import ActorFailed
from actors.runtime.ref import ActorRef
from actors.runtime.supervision import Directive, RestartTracker, SupervisorPolicy
from actors.runtime.system import ActorSystem

__all__ = [
    "ActorFailed",
    "ActorRef",
    "ActorStopped",
    "ActorSystem",
    "AskTimeout",
    "Behaviour",
    "BehaviourSpec",
    "Context",
    "Delivery",
    "Directive",
    "DuplicateActorName",
    "EdgeActor",
    "EdgeContext",
    "LatencyHistogram",
    "Mailbox",
    "MailboxConfig",
    "MailboxFull",
    "MailboxStats",
    "OverflowPolicy",
    "RestartTracker",
    "SpecError",
    "SupervisorPolicy",
    "ThreadBridge",
    "TimerId",
    "handles",
]
