"""The bridge: the asyncio process's two threads into the Thespian system.

Thespian's external API (``ActorSystem`` from outside any actor) blocks and is
not thread-safe, so it never runs on the event loop. Two threads own it:

* the **driver** owns the main handle. It takes operations from one queue
  (tells to Thespian actors, creating and starting cells, stopping): it
  blocks on that queue, never polls. On an in-process base
  (``simpleSystemBase``) Thespian actors run only inside a call into the
  system, so the driver also waits, with a timeout to the next Thespian
  wake-up exactly, and then runs the system once.
* the **listener** owns a private endpoint (``ActorSystem.private()``): it
  blocks in ``listen`` and is what Thespian actors tell when they tell a ref
  of the asyncio process. Messages are decoded on this thread and handed to
  the loop in batches: one ``call_soon_threadsafe`` per batch, not per message.

Both directions coalesce the way a mailbox does, because a message waiting at
the bridge is a message nobody has handled yet: consecutive tokens (``merge``)
to one actor become one, a newer keyed message (``coalesce_key``: avatar
frames, metrics) replaces the waiting one. Counters: ``stats()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from thespian.actors import ActorSystemFailure

from aiway.actors.protocol import ActorFailed, ProtocolError
from aiway.actors.runtime.errors import MailboxFull
from aiway.actors.runtime.mailbox import Delivery, Mailbox
from aiway.actors.runtime.ref import ActorRef
from aiway.actors.runtime.thespian import control as c
from aiway.actors.runtime.thespian.config import SystemHandle
from aiway.actors.runtime.thespian.control import RemoteTarget
from aiway.actors.runtime.thespian.staging import BridgeStats, Staging, teller
from aiway.actors.runtime.thespian.wire import Batch, Envelope, Resequencer, decode, encode

log = logging.getLogger(__name__)

#: the address of a cell whose creation the driver has not done yet
PENDING = object()

_SEND = 0
_CALL = 1
_KICK = 2
_STOP = 3
#: operations the driver takes from its queue per round (then sends, then looks again)
_ROUND = 1024


class BridgeOwner(Protocol):
    """What the bridge needs of the host that owns it (the host's loop side)."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the host's actors run on."""
        ...

    def on_dead_letter(self, name: str, msg: object) -> None:
        """Loop side: ``msg`` for ``name`` could not be delivered."""
        ...

    def on_failure(self, failure: ActorFailed) -> None:
        """Loop side: a Thespian cell failed (its supervision already acted)."""
        ...

    def on_control(self, msg: object) -> None:
        """Loop side: a control message from the guardian or a cell."""
        ...

    def on_late_reply(self) -> None:
        """Loop side: a reply came for an ask that had already ended."""
        ...

    def close_system(self, system: SystemHandle) -> None:
        """Driver thread, last: end our actors, and the system when the host owns it."""
        ...


class Bridge:
    """Owns the Thespian handles (two threads) and the tables of refs across the boundary."""

    def __init__(
        self,
        host: BridgeOwner,
        open_system: Callable[[], SystemHandle],
        *,
        in_process: bool,
        call_timeout: float,
        capacity: int = 4096,
        watch: bool = False,
        heartbeat: float | None = None,
    ) -> None:
        self.host = host
        self.loop = host.loop
        self.open_system = open_system
        self.in_process = in_process
        self.call_timeout = call_timeout
        self.ops: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        #: ``watch``: a multiprocess system ends itself when this process dies (see guardian)
        self.watch = watch
        #: seconds between the guardian's beats to its cells (see ``control.Setup``)
        self.heartbeat = heartbeat
        #: addresses a send failed to reach (dead process, lost member): not tried again
        self._unreachable: set[str] = set()
        self._watchdog: socket.socket | None = None
        self._watched: socket.socket | None = None
        self.system: SystemHandle = None
        self.guardian: object | None = None
        #: the listener's address as Thespian actors see it (refs of this process point here)
        self.address: object | None = None
        #: the guardian's process, and the session of the system's processes (multiproc bases)
        self.guardian_pid = 0
        self.session = 0
        self.exports: dict[str, ActorRef] = {}
        self.proxies: dict[str, RemoteTarget] = {}
        self._proxies_lock = threading.Lock()
        self._inbound = Staging()
        #: the listener's: what cells send here, put back in the order they sent it
        self._resequencer = Resequencer()
        self._inbound_lock = threading.Lock()
        self._inbound_scheduled = False
        #: per name: what its full mailbox refused, and what came after, in order
        self._held: dict[str, deque[object]] = {}
        #: per name: the cells told that its mailbox is full
        self._pressing: dict[str, list[object]] = {}
        self._tokens = itertools.count(1)
        self._driver = threading.Thread(target=self._drive, name="thespian-driver", daemon=True)
        self._listener = threading.Thread(
            target=self._listen, name="thespian-listener", daemon=True
        )
        self._ready: asyncio.Future[None] = self.loop.create_future()
        self._done: asyncio.Future[None] = self.loop.create_future()
        self.closed = False
        #: operations waiting for the driver at which an edge ``put`` waits (its high mark);
        #: it resumes once they are down to half
        self.capacity = capacity
        self._space = asyncio.Event()
        self._space.set()
        self._space_wanted = False
        self.blocked_puts = 0
        self.held = 0
        self.sent = 0
        self.sent_coalesced = 0
        self.thespian_out = 0
        self.received = 0
        self.handoffs = 0
        self.undeliverable = 0
        self.bad_input = 0

    # -- lifecycle (loop side) ---------------------------------------------------------

    async def start(self) -> None:
        """Open the Thespian system, create the guardian, start listening."""
        self._driver.start()
        await self._ready

    async def close(self, timeout: float) -> None:
        """Stop listening, shut the system (or only our actors) down, join the threads."""
        if self.closed:
            return
        self.closed = True
        if not self._driver.is_alive():
            return
        self.ops.put((_STOP, timeout))
        try:
            await asyncio.wait_for(asyncio.shield(self._done), timeout + 5.0)
        except TimeoutError:
            log.error("the Thespian driver did not finish within %ss", timeout + 5.0)

    def call(self, fn: Callable[[SystemHandle], object]) -> asyncio.Future[Any]:
        """Run ``fn(system)`` on the driver thread, in order with every tell; await its result."""
        future: asyncio.Future[Any] = self.loop.create_future()
        if self.closed:
            future.set_exception(RuntimeError("the Thespian bridge is closed"))
        else:
            self.ops.put((_CALL, fn, future))
        return future

    def submit(self, fn: Callable[[SystemHandle], object]) -> None:
        """Run ``fn(system)`` on the driver thread, in order with every tell; no result."""
        if not self.closed:
            self.ops.put((_CALL, fn, None))

    # -- sending (loop side) ------------------------------------------------------------

    def send(self, target: RemoteTarget, msg: object) -> Delivery:
        """``offer`` of every proxy ref: queue ``msg`` for the driver. Never blocks."""
        if target.address is None or self.closed:
            self.host.on_dead_letter(target.name, msg)
            return Delivery.DEAD
        self.sent += 1
        self.ops.put((_SEND, target, msg))
        return Delivery.ACCEPTED

    async def put(self, target: RemoteTarget, msg: object, timeout: float | None) -> Delivery:
        """An edge producer's send: waits while the driver is ``capacity`` operations behind.

        Raises ``MailboxFull`` when no room came within ``timeout``. This bounds the
        bridge, not the Thespian actor's own queue, which Thespian keeps unbounded.
        """
        if self.ops.qsize() >= self.capacity and not self.closed:
            self.blocked_puts += 1
            self._space.clear()
            self._space_wanted = True
            try:
                await asyncio.wait_for(self._space.wait(), timeout)
            except TimeoutError:
                raise MailboxFull(
                    f"the Thespian bridge stayed {self.capacity} messages behind for {timeout}s "
                    f"(sending to {target.name!r})"
                ) from None
        return self.send(target, msg)

    def _room(self) -> None:
        """Loop side, after a driver round: wake waiting puts once the backlog is down to half."""
        if self.ops.qsize() <= self.capacity // 2 or self.closed:
            self._space_wanted = False
            self._space.set()

    def reachable(self, address: object) -> bool:
        """False once a send to ``address`` failed (its process or member is gone)."""
        return str(address) not in self._unreachable

    def proxy(self, name: str, address: object | None) -> RemoteTarget:
        """The one target of the Thespian actor ``name`` in this process."""
        with self._proxies_lock:
            target = self.proxies.get(name)
            if target is None:
                target = RemoteTarget(name, address, self.send)
                self.proxies[name] = target
            return target

    # -- refs (the wire codec asks) --------------------------------------------------------

    def address_of(self, ref: ActorRef) -> object | None:
        """Driver thread: a proxy's address, or this process's (and export the ref)."""
        target = ref._target
        if isinstance(target, RemoteTarget):
            address = target.address
            return None if address is PENDING else address
        self.exports[ref.name] = ref
        return self.address

    def ref_at(self, name: str, address: object | None) -> ActorRef:
        """Listener thread: our own exported ref, or a proxy of a Thespian actor."""
        if address is None:
            return ActorRef(name, None, self.host.on_dead_letter)
        if address == self.address:
            ref = self.exports.get(name)
            return ref if ref is not None else ActorRef(name, None, self.host.on_dead_letter)
        return ActorRef(name, self.proxy(name, address), self.host.on_dead_letter)

    # -- the driver thread ----------------------------------------------------------------

    def _drive(self) -> None:
        try:
            system = self.open_system()
        except BaseException as exc:
            self._settle(self._ready, None, exc)
            self._settle(self._done, None, None)
            return
        self.system = system
        try:
            from aiway.actors.runtime.thespian.guardian import GuardianActor

            self.guardian = system.createActor(GuardianActor)
            watchdog = None
            if self.watch and not self.in_process:
                self._watchdog = socket.create_server(("127.0.0.1", 0))
                watchdog = self._watchdog.getsockname()[1]
            system.tell(self.guardian, c.Setup(self.in_process, watchdog, self.heartbeat))
            if self._watchdog is not None:
                self._watchdog.settimeout(self.call_timeout)
                self._watched, _ = self._watchdog.accept()
                # one connection is all it serves: listen no longer
                self._watchdog.close()
                self._watchdog = None
            self._listener.start()
            self._run(system)
        except BaseException as exc:
            log.exception("the Thespian driver failed")
            self._settle(self._ready, None, exc)
        finally:
            self._settle(self._done, None, None)

    def _run(self, system: SystemHandle) -> None:
        ops = self.ops
        while True:
            timeout = self._next_wakeup(system)
            try:
                first = ops.get(timeout=timeout)
            except queue.Empty:
                system.tell(self.guardian, c.NOP)  # runs the in-process system's due wake-ups
                continue
            batch = [first]
            while len(batch) < _ROUND:
                try:
                    batch.append(ops.get_nowait())
                except queue.Empty:
                    break
            staging = Staging()
            for op in batch:
                kind = op[0]
                if kind == _SEND:
                    staging.add(op[1].name, op[1], op[2])
                    continue
                self._flush(system, staging)
                if kind == _CALL:
                    self._call(system, op[1], op[2])
                elif kind == _KICK:
                    system.tell(self.guardian, c.NOP)
                elif kind == _STOP:
                    self._shutdown(system, op[1])
                    return
            self._flush(system, staging)
            if self._space_wanted:
                self.loop.call_soon_threadsafe(self._room)

    def _next_wakeup(self, system: SystemHandle) -> float | None:
        """In-process base only: seconds to its next wake-up (None: none is due)."""
        if not self.in_process:
            return None
        next_wakeup = getattr(system._systemBase, "_next_wakeup", None)
        timer = next_wakeup() if next_wakeup is not None else None
        if timer is None:
            return None
        return max(0.0, float(timer.view().remainingSeconds()))

    def _flush(self, system: SystemHandle, staging: Staging) -> None:
        items = staging.take()
        if not items:
            return
        self.sent_coalesced += staging.coalesced
        staging.coalesced = 0
        routes: dict[int, tuple[object, list[Envelope]]] = {}
        for _, target, msg in items:
            address = target.address
            if address is None or address is PENDING:
                self.host.loop.call_soon_threadsafe(self.host.on_dead_letter, target.name, msg)
                continue
            try:
                data, refs = encode(msg, self)
            except ProtocolError:
                log.exception("cannot send %s to %s", type(msg).__name__, target.name)
                self.host.loop.call_soon_threadsafe(self.host.on_dead_letter, target.name, msg)
                continue
            entry = routes.get(id(target))
            if entry is None:
                routes[id(target)] = (address, [Envelope(target.name, data, refs)])
            else:
                entry[1].append(Envelope(target.name, data, refs))
        for address, envelopes in routes.values():
            if str(address) in self._unreachable:
                for envelope in envelopes:
                    self.host.loop.call_soon_threadsafe(
                        self.host.on_dead_letter, envelope.to, envelope
                    )
                continue
            message = envelopes[0] if len(envelopes) == 1 else Batch(envelopes)
            try:
                system.tell(address, message)
                self.thespian_out += 1
            except ActorSystemFailure as exc:
                # its process (or its whole member) is gone: every later send to it would
                # block on a refused connection too; the directory names its successor
                self._unreachable.add(str(address))
                log.warning("%s is unreachable (%s); its messages are dead letters", address, exc)
            except Exception:
                log.exception("Thespian refused a message for %s", envelopes[0].to)

    def _call(
        self,
        system: SystemHandle,
        fn: Callable[[SystemHandle], object],
        future: asyncio.Future[Any] | None,
    ) -> None:
        try:
            result = fn(system)
        except BaseException as exc:
            if future is None:
                log.exception("a Thespian host operation failed")
            else:
                self._settle(future, None, exc)
            return
        if future is not None:
            self._settle(future, result, None)

    def ask(
        self, system: SystemHandle, address: object, msg: Any, reply: type, timeout: float
    ) -> Any:
        """Driver thread: Thespian's ``ask``, made safe: the reply must carry ``msg.token``.

        Thespian's ask returns None on timeout, and a reply that arrives late
        would be returned to the next ask; both are handled here.
        """
        deadline = time.monotonic() + timeout
        answer: Any = system.ask(address, msg, timeout)
        while not (isinstance(answer, reply) and getattr(answer, "token", None) == msg.token):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {reply.__name__} from Thespian within {timeout}s")
            answer = system.listen(remaining)
        return answer

    def token(self) -> int:
        return next(self._tokens)

    def _shutdown(self, system: SystemHandle, timeout: float) -> None:
        if self.address is not None:
            try:
                system.tell(self.address, c.BridgeClose())
            except Exception:
                log.exception("could not stop the Thespian listener")
        if self.in_process:
            system.tell(self.guardian, c.NOP)
        self._listener.join(timeout)
        self.host.close_system(system)
        # only now: the guardian ends the system when this connection closes
        for end in (self._watched, self._watchdog):
            if end is not None:
                end.close()

    # -- the listener thread -----------------------------------------------------------------

    def _listen(self) -> None:
        with self.system.private() as endpoint:
            endpoint.tell(self.guardian, c.BridgeHello(self.token()))
            if self.in_process:
                self.ops.put((_KICK,))
            resequencer = self._resequencer
            while True:
                msg = endpoint.listen(resequencer.wait(time.monotonic()))
                if msg is None:
                    overdue = resequencer.overdue(time.monotonic())
                    if overdue:
                        log.warning("a message from a cell never came; going on without it")
                        self._take_batches(overdue)
                    continue
                if isinstance(msg, c.BridgeClose):
                    return
                try:
                    self._take(msg)
                except Exception:
                    log.exception("the Thespian listener could not take %r", msg)

    def _take(self, msg: object) -> None:
        if isinstance(msg, Envelope):
            self._take_envelope(msg, None)
        elif isinstance(msg, Batch):
            self._take_batches(self._resequencer.accept(msg, time.monotonic()))
        elif isinstance(msg, c.Welcome):
            self.address = msg.address
            self.guardian_pid, self.session = msg.pid, msg.session
            self._settle(self._ready, None, None)
        else:
            self.loop.call_soon_threadsafe(self.host.on_control, msg)

    def _take_batches(self, batches: list[Batch]) -> None:
        for batch in batches:
            for envelope in batch.envelopes:
                self._take_envelope(envelope, batch.origin)

    def _take_envelope(self, envelope: Envelope, origin: object | None) -> None:
        try:
            msg = decode(envelope.data, envelope.refs, self)
        except ProtocolError as exc:
            self.bad_input += 1
            log.warning("a message from Thespian for %s could not be decoded: %s", envelope.to, exc)
            return
        if envelope.to == c.FAILURES:
            if isinstance(msg, ActorFailed):
                self.loop.call_soon_threadsafe(self.host.on_failure, msg)
            return
        self.received += 1
        with self._inbound_lock:
            self._inbound.add(envelope.to, origin, msg)
            if self._inbound_scheduled:
                return
            self._inbound_scheduled = True
        self.handoffs += 1
        try:
            self.loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop has closed
            self.undeliverable += 1

    def _deliver(self) -> None:
        """Loop side: offer what the listener took to the actors of this process."""
        with self._inbound_lock:
            items = self._inbound.take()
            self._inbound_scheduled = False
        exports = self.exports
        for name, origin, msg in items:
            ref = exports.get(name)
            if ref is None:
                self.undeliverable += 1
                if name.startswith("ask-"):
                    self.host.on_late_reply()
                else:
                    self.host.on_dead_letter(name, msg)
                continue
            held = self._held.get(name)
            if held is not None:  # behind what a full mailbox already refused: keep order
                held.append(msg)
                self._press(name, origin)
            elif ref.tell(msg) is Delivery.REJECTED:
                self._hold(name, ref, msg, origin)

    def _hold(self, name: str, ref: ActorRef, msg: object, origin: object | None) -> None:
        """A full mailbox here refused ``msg``: keep it, and what follows for ``name``, until
        the mailbox drains; tell the sending cell meanwhile, so it stops (``Pressure``)."""
        mailbox = ref._target
        if not isinstance(mailbox, Mailbox):
            self.host.on_dead_letter(name, msg)
            return
        self.held += 1
        self._held[name] = deque([msg])
        mailbox.notify_when_drained(lambda: self._drained(name))
        self._press(name, origin)

    def _press(self, name: str, origin: object | None) -> None:
        if origin is None:
            return
        origins = self._pressing.setdefault(name, [])
        if not any(known == origin for known in origins):
            origins.append(origin)
            self.submit(teller(origin, c.Pressure(name, True)))

    def _drained(self, name: str) -> None:
        """The mailbox of ``name`` drained: hand it what was held, in order, then release."""
        held = self._held.get(name)
        ref = self.exports.get(name)
        while held:
            result = Delivery.DEAD if ref is None else ref.tell(held[0])
            if result is Delivery.REJECTED:
                mailbox = ref._target if ref is not None else None
                if isinstance(mailbox, Mailbox):
                    mailbox.notify_when_drained(lambda: self._drained(name))
                    return
            msg = held.popleft()
            if result is Delivery.DEAD:
                self.host.on_dead_letter(name, msg)
        self._held.pop(name, None)
        for origin in self._pressing.pop(name, []):
            self.submit(teller(origin, c.Pressure(name, False)))

    def watch_drain(self, msg: c.DrainWatch) -> None:
        """Loop side: a cell wants to know when a mailbox of this process drains."""
        ref = self.exports.get(msg.target)
        target = None if ref is None else ref._target

        def drained() -> None:
            self.submit(teller(msg.watcher, msg.notify))

        if isinstance(target, Mailbox):
            target.notify_when_drained(drained)
        else:
            drained()

    def stats(self) -> BridgeStats:
        return BridgeStats(
            sent=self.sent,
            sent_coalesced=self.sent_coalesced,
            thespian_messages_out=self.thespian_out,
            received=self.received,
            received_coalesced=self._inbound.coalesced,
            loop_handoffs=self.handoffs,
            blocked_puts=self.blocked_puts,
            held=self.held,
            undeliverable=self.undeliverable,
            bad_input=self.bad_input,
        )

    def _settle(self, future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
        def settle() -> None:
            if future.done():
                return
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(result)

        # a closed loop raises RuntimeError: then nobody is waiting any more
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(settle)
