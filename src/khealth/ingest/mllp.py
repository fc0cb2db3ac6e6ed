"""The MLLP listener (HL7 v2 Minimal Lower Layer Protocol, release 2): an asyncio TCP
server reading frames ``\\x0b <message> \\x1c \\x0d`` and writing one ACK frame per message.

* Many messages per connection; each is answered in order, after its commit.  A sender
  may pipeline: frames are read as they come (up to ``max_in_flight`` unanswered per
  connection) and the ACKs go back in the same order.
* Group commit: messages arriving on all connections while a commit runs wait in one queue
  and are committed together in the next (``Hl7Feed.commit``); one durable sync then
  covers them all (docs/benchmarks.md has the rates).  Each frame
  is parsed and mapped (``Hl7Feed.prepare``) on arrival, on the listener's loop, while the
  previous group commits in the commit thread (which gives the GIL up while the database
  works and syncs).
* A frame cut by the peer (EOF before ``\\x1c\\x0d``) or left unfinished for
  ``frame_timeout`` seconds is discarded whole and the connection closed: nothing of it is
  applied.  A frame longer than ``max_message`` bytes closes the connection too.
* A storage failure (not a content error) sends no ACK and closes the connection: the
  sender keeps the message and resends it, and the control-id ledger makes the resend safe.

Logs carry counts, ACK codes and peers, never message content.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
import uvloop

START = b"\x0b"
END = b"\x1c\x0d"
log = structlog.get_logger("khealth.mllp")

Handler = Callable[[Sequence[bytes]], list[bytes]]


class Feed(Protocol):
    """A handler in two steps: ``prepare`` each frame as it arrives (no storage), then
    ``commit`` a group of prepared messages and answer their ACKs, in order."""

    def prepare(self, raw: bytes) -> Any: ...

    def commit(self, prepared: Sequence[Any]) -> list[bytes]: ...


class _Plain:
    """A plain handler of raw frames as a ``Feed``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def prepare(self, raw: bytes) -> Any:
        return raw

    def commit(self, prepared: Sequence[Any]) -> list[bytes]:
        return self.handler(prepared)


@dataclass(frozen=True, slots=True)
class MllpSettings:
    host: str = "127.0.0.1"
    port: int = 2575
    max_message: int = 4 * 1024 * 1024
    frame_timeout: float = 30.0  # an unfinished frame is dropped after this long
    idle_timeout: float = 600.0  # a connection with no frame for this long is closed
    max_batch: int = 500
    max_in_flight: int = 1000  # unanswered messages per connection before reading waits
    #: several listener processes on one port (SO_REUSEPORT): the kernel spreads the
    #: connections over them; each connection stays with one process, so its order holds
    reuse_port: bool = False


class FrameTooLarge(Exception):
    pass


async def read_frame(reader: asyncio.StreamReader, settings: MllpSettings) -> bytes | None:
    """The next message, or None at a clean end of stream (EOF between frames)."""
    while True:  # bytes before the start block (keep-alive newlines) are skipped
        async with asyncio.timeout(settings.idle_timeout):  # (no task per read, as wait_for)
            first = await reader.read(1)
        if not first:
            return None
        if first == START:
            break
    try:
        async with asyncio.timeout(settings.frame_timeout):
            frame = await reader.readuntil(END)
    except asyncio.LimitOverrunError:
        raise FrameTooLarge() from None
    return frame[: -len(END)]


def _retrieved(future: asyncio.Future[bytes]) -> None:
    """Mark an unanswered message's outcome seen (its connection has closed)."""
    if not future.cancelled():
        future.exception()


class MllpServer:
    def __init__(self, handler: Feed | Handler, settings: MllpSettings) -> None:
        self.feed: Feed = _Plain(handler) if callable(handler) else handler
        self.settings = settings
        self._queue: asyncio.Queue[tuple[Any, asyncio.Future[bytes]]] | None = None
        self._server: asyncio.Server | None = None
        self._committer: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="mllp-commit")

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._committer = asyncio.create_task(self._commit_loop())
        self._server = await asyncio.start_server(
            self._connection, self.settings.host, self.settings.port,
            limit=self.settings.max_message + len(END), reuse_port=self.settings.reuse_port,
        )  # fmt: skip
        log.info("mllp listening", host=self.settings.host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._committer is not None:
            self._committer.cancel()
        self._executor.shutdown(wait=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        acks: asyncio.Queue[asyncio.Future[bytes] | None] = asyncio.Queue(
            self.settings.max_in_flight
        )
        sender = asyncio.create_task(self._send_acks(writer, acks, peer))
        try:
            while (frame := await read_frame(reader, self.settings)) is not None:
                await acks.put(self._submit(frame))
        except asyncio.IncompleteReadError:
            log.warning("mllp frame cut short; discarded", peer=peer)
        except TimeoutError:
            log.warning("mllp connection timed out; any partial frame discarded", peer=peer)
        except FrameTooLarge:
            log.warning("mllp frame over the size limit; connection closed", peer=peer,
                        limit=self.settings.max_message)  # fmt: skip
        except (ConnectionError, OSError):
            log.info("mllp peer went away", peer=peer)
        except Exception as error:  # a bug reading one message: that connection ends
            log.error("mllp message could not be taken in", peer=peer,
                      error=type(error).__name__)  # fmt: skip
        finally:
            await acks.put(None)  # the sender drains the queue even after a failure
            answered = await sender
            writer.close()
            log.info("mllp connection closed", peer=peer, answered=answered)

    async def _send_acks(
        self, writer: asyncio.StreamWriter, acks: asyncio.Queue[asyncio.Future[bytes] | None],
        peer: str,
    ) -> int:  # fmt: skip
        """Write each ACK once its message committed, in order.  After a failure nothing
        more is answered and the connection closes (its reader then sees the end)."""
        answered = 0
        failed = False
        while (future := await acks.get()) is not None:
            if failed:
                future.add_done_callback(_retrieved)
                continue
            try:
                ack = await future
                writer.write(START + ack + END)
                await writer.drain()
                answered += 1
            except (ConnectionError, OSError):
                log.info("mllp peer went away", peer=peer)
                failed = True
            except Exception as error:  # storage failure: no ACK, the sender resends
                log.error("mllp commit failed; closing without ACK", peer=peer,
                          error=type(error).__name__)  # fmt: skip
                failed = True
            if failed:
                writer.close()
        return answered

    def _submit(self, frame: bytes) -> asyncio.Future[bytes]:
        """Prepare the message now and queue it for the next group commit."""
        assert self._queue is not None
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((self.feed.prepare(frame), future))
        return future

    async def _commit_loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < self.settings.max_batch:
                batch.append(self._queue.get_nowait())
            prepared = [item for item, _ in batch]
            try:
                acks = await loop.run_in_executor(self._executor, self.feed.commit, prepared)
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), ack in zip(batch, acks, strict=True):
                if not future.done():
                    future.set_result(ack)


class MllpThread:
    """The listener on its own event loop in a daemon thread, beside uvicorn's loop in the
    same process (``khealth serve --mllp-port``)."""

    def __init__(self, handler: Feed | Handler, settings: MllpSettings) -> None:
        self.server = MllpServer(handler, settings)
        self._loop = uvloop.new_event_loop()  # less work per frame than asyncio's own loop
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mllp", daemon=True)

    def start(self) -> MllpThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as error:
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop)
        future.result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
