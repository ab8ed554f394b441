"""The actor runtime: mailboxes, refs, behaviours, the asyncio host, supervision, bridge.

The Thespian host is in ``aiway.actors.runtime.thespian`` (imported on first use);
``BehaviourSpec``, the factory every host can build in any process, is here.
"""

from aiway.actors.runtime.behaviour import (
    Behaviour,
    Context,
    EdgeActor,
    EdgeContext,
    TimerId,
    handles,
)
from aiway.actors.runtime.bridge import ThreadBridge
from aiway.actors.runtime.errors import (
    ActorRuntimeError,
    ActorStopped,
    AskTimeout,
    DuplicateActorName,
    MailboxFull,
)
from aiway.actors.runtime.mailbox import (
    Delivery,
    LatencyHistogram,
    Mailbox,
    MailboxConfig,
    MailboxStats,
    OverflowPolicy,
)
from aiway.actors.runtime.messages import ActorFailed
from aiway.actors.runtime.ref import ActorRef
from aiway.actors.runtime.spec import BehaviourSpec, SpecError
from aiway.actors.runtime.supervision import Directive, RestartTracker, SupervisorPolicy
from aiway.actors.runtime.system import ActorSystem

__all__ = [
    "ActorFailed",
    "ActorRef",
    "ActorRuntimeError",
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
