"""Share one poller among every redacted-audio wait of an account in a triggerer process.

Polling each transcript on its own costs one or two requests per wait per interval, so ten
thousand waits at 30 s would spend five times AssemblyAI's 20,000 requests per 5 minutes. One
:class:`SharedPoller` per event loop and account instead learns up to 200 statuses per request
from ``GET /v2/transcript`` (newest first, paged down only as far as the oldest transcript still
waited on) and spends per-transcript requests only where the list says something happened:

- ``completed``: its redacted audio is asked for each cycle until it is ready (redaction never
  requested is a final error there too); the transcript is read first, once, only when no wait
  on it brought its audio format from the sensor's inline poke;
- ``error``: a final error with the list's own ``error`` text (the transcript is read when the
  list gives none);
- not on any page scanned (older than the pages a cycle may read, or gone): checked directly
  with the per-transcript poll, every :data:`DIRECT_CHECK_EVERY` intervals.

Pacing: the list runs at the shortest interval among the waits still pending (recomputed as
they join and leave: a short wait joining wakes the poller, and once it leaves the list slows
down again); each transcript is asked about no more often than its own wait's interval. No
interval goes below :data:`MIN_POLL_INTERVAL`.

The verdicts come from :mod:`airflow_assemblyai.redaction`, the table the sensor uses. A 429's
``Retry-After`` closes a gate on the poller's client, so every request of the account (and thus
every wait) pauses together, for no longer than the connection's ``retry_wait_max`` (the cap the
hook applies). A refusal (401/403) is final only when it repeats: a refused list request fails
every wait after ``max_attempts`` cycles in a row were refused, a refused per-transcript request
fails its wait after ``max_attempts`` refusals in a row. Waits are reference-counted: a cancelled
or timed-out wait only drops its own registration, the poller's requests run in its own task (a
cancelled trigger never cancels one), and the task stops when nobody waits any more.

An account is the base URL plus a SHA-256 of the API key, never the connection id alone (two
connections with one key share a rate limit) and never the key itself. The first connection that
registers supplies the retry settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_assemblyai.exceptions import (
    AssemblyAIAuthError,
    AssemblyAIError,
    AssemblyAIInvalidInputError,
    AssemblyAITransientError,
)
from airflow_assemblyai.hooks.assemblyai import MAX_LIST_LIMIT, AssemblyAIHook
from airflow_assemblyai.http_rules import retry_after_seconds
from airflow_assemblyai.redaction import (
    DEFAULT_AUDIO_FORMAT,
    AudioFormat,
    RedactionPoll,
    audio_format_of,
    judge_transcript,
)

if TYPE_CHECKING:
    import httpx

    from airflow_assemblyai.hooks.settings import ConnectionSettings

log = logging.getLogger(__name__)

#: Most list pages one cycle reads (200 rows each); older waits are checked directly.
MAX_LIST_PAGES = 250
#: A wait the list has not shown for this many intervals is checked with its own request.
DIRECT_CHECK_EVERY = 4
#: Per-transcript requests a cycle keeps in flight at once.
CHECK_CONCURRENCY = 8
#: Shortest interval in seconds for the list and for any wait, whatever a wait asks for: one wait
#: at 0.1 s would otherwise make the account list (and ask) ten times a second.
MIN_POLL_INTERVAL = 5.0
#: Intervals are jittered by this fraction either way.
JITTER = 0.1
#: Interval of the list while no wait is pending.
IDLE_INTERVAL = 30.0

#: What a wait ends with: the ready verdict, or the final error to report.
Outcome = RedactionPoll | AssemblyAIError
AccountKey = tuple[str, str]


def jittered(seconds: float) -> float:
    """Return ``seconds`` ± 10 %, so many waits or pollers started together do not poll in lockstep."""
    return seconds * random.uniform(1 - JITTER, 1 + JITTER)


def account_key(settings: ConnectionSettings) -> AccountKey:
    """Return the key of an account: its base URL and a SHA-256 of its API key (never the key)."""
    return settings.base_url, hashlib.sha256(settings.api_key.encode()).hexdigest()


@dataclass
class _Watch:
    """What the poller knows about one waited transcript, shared by every wait on it."""

    transcript_id: str
    poll_interval: float
    future: asyncio.Future[Outcome]
    #: Wall-clock time of the last news about it (a list row or a direct check).
    last_known: float
    waiters: int = 1
    listed_status: str | None = None
    listed_error: str | None = None
    created: str | None = None
    #: The list did not show it on a full scan; only direct checks see it.
    unlisted: bool = False
    #: Known from a wait's sensor or from the one read of the transcript once it completed.
    audio_format: AudioFormat | None = None
    #: Monotonic start of the cycle that last asked about it. None yet at first: the list decides
    #: when, and the trigger holds its event until one interval after it started anyway.
    last_asked: float = float("-inf")
    #: Per-transcript requests about it refused (401/403) in a row.
    refusals: int = 0

    @property
    def pending(self) -> bool:
        return not self.future.done()

    @property
    def interval(self) -> float:
        """Return its wait's poll interval, never below :data:`MIN_POLL_INTERVAL`."""
        return max(self.poll_interval, MIN_POLL_INTERVAL)

    def may_ask(self, now: float) -> bool:
        """Return True when one interval (less its jitter) has passed since it was last asked about."""
        return now - self.last_asked >= (1 - JITTER) * self.interval


class SharedPoller:
    """Poll the status of many transcripts of one account with few requests; see the module doc."""

    def __init__(self, *, key: AccountKey, assemblyai_conn_id: str) -> None:
        self.key = key
        self.assemblyai_conn_id = assemblyai_conn_id
        self._hook = AssemblyAIHook(assemblyai_conn_id)
        self._watches: dict[str, _Watch] = {}
        self._paused_until = 0.0
        self._gated = False
        self._task: asyncio.Task[None] | None = None
        #: Monotonic time of the next cycle, and the event that wakes the loop when it moves earlier.
        self._next_cycle = 0.0
        self._wake = asyncio.Event()
        #: The connection's retry settings, read when the client is built.
        self._retry_wait_max = float("inf")
        self._max_attempts = 1
        #: Cycles in a row whose list request was refused (401/403).
        self._list_refusals = 0
        #: Cycles run, for logs and tests.
        self.cycles = 0

    # -- registration (called by triggers, on the poller's loop) ----------------------------------

    def register(
        self, transcript_id: str, poll_interval: float, *, audio_format: AudioFormat | None = None
    ) -> asyncio.Future[Outcome]:
        """Start (or join) the watch of a transcript; return the future of its outcome.

        ``audio_format``, when the caller already knows it, spares the read of the transcript.
        """
        now = time.monotonic()
        watch = self._watches.get(transcript_id)
        if watch is None:
            loop = asyncio.get_running_loop()
            watch = _Watch(transcript_id, poll_interval, loop.create_future(), last_known=time.time())
            self._watches[transcript_id] = watch
        else:
            watch.waiters += 1
            watch.poll_interval = min(watch.poll_interval, poll_interval)
        if audio_format is not None and watch.audio_format is None:
            watch.audio_format = audio_format
        # The first list for this wait comes one of its intervals from now (the sensor just
        # polled), sooner than the cycle already planned when its interval is shorter.
        first = now + jittered(max(poll_interval, MIN_POLL_INTERVAL))
        if self._task is None or self._task.done():
            self._next_cycle = first
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"assemblyai-shared-poller-{self.key[0]}"
            )
        elif first < self._next_cycle:
            self._next_cycle = first
            self._wake.set()
        return watch.future

    def unregister(self, transcript_id: str) -> None:
        """Drop one wait on a transcript; stop the poller when nobody waits any more."""
        watch = self._watches.get(transcript_id)
        if watch is None:
            return
        watch.waiters -= 1
        if watch.waiters <= 0:
            del self._watches[transcript_id]
        if not self._watches:
            _forget(self)
            if self._task is not None:
                self._task.cancel()

    @property
    def paused_until(self) -> float:
        """Return the wall-clock time until which a 429 paused every request of this account."""
        return self._paused_until

    @property
    def list_interval(self) -> float:
        """Return the seconds between list requests: the shortest interval of the pending waits."""
        pending = [w.interval for w in self._watches.values() if w.pending]
        return min(pending, default=max(IDLE_INTERVAL, MIN_POLL_INTERVAL))

    # -- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while self._watches:
                # Sleep until the next cycle; a shorter wait joining moves it earlier and wakes us.
                delay = self._next_cycle - time.monotonic()
                if delay > 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), delay)
                    continue
                started = time.monotonic()
                try:
                    await self._cycle(started)
                except Exception:  # a surprise in one cycle must not end every wait of the account
                    log.exception("A shared poll cycle failed; trying again next interval")
                # One interval from start to start: a long cycle must not stretch every wait's
                # latency. Read after the cycle, so waits that left no longer set the pace.
                self._next_cycle = started + jittered(self.list_interval)
        finally:
            _forget(self)
            await self._hook.aclose()

    async def _gate_client(self) -> None:
        """Build the poller's client on first use, with the pause gate on every request it sends."""
        if self._gated:
            return
        client = await self._hook.aget_conn()
        settings = await self._hook.aget_settings()
        self._retry_wait_max = settings.retry_wait_max
        self._max_attempts = settings.max_attempts
        client.event_hooks = {
            "request": [*client.event_hooks["request"], self._wait_out_pause],
            "response": [*client.event_hooks["response"], self._note_retry_after],
        }
        self._gated = True

    async def _wait_out_pause(self, request: httpx.Request) -> None:
        """Hold every request of the account while a 429's ``Retry-After`` lasts."""
        # A loop, not an event: another 429 may push the end of the pause out while this sleeps.
        while (delay := self._paused_until - time.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)

    async def _note_retry_after(self, response: httpx.Response) -> None:
        if response.status_code != 429:
            return
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        if seconds:
            # The hook's cap: a Retry-After of an hour must not hold every wait of the account.
            seconds = min(seconds, self._retry_wait_max)
            self._paused_until = max(self._paused_until, time.time() + seconds)
            log.warning("AssemblyAI answered 429: pausing every wait of this account for %.1f s", seconds)

    async def _cycle(self, started: float) -> None:
        """Run one cycle: the list, then the per-transcript requests due; ``started`` is monotonic."""
        self.cycles += 1
        # Measure "not shown for N intervals" from the cycle's start: a slow scan on a loaded
        # triggerer must not make every transcript it just listed look unseen.
        now = time.time()
        try:
            await self._gate_client()
            await self._scan_list()
        except AssemblyAIInvalidInputError as exc:  # the connection itself is wrong: final for all
            for watch in list(self._watches.values()):
                _resolve(watch, exc)
            return
        except AssemblyAIAuthError as exc:  # maybe a blip: the cycle's other requests would fail too
            self._list_refusals += 1
            if self._list_refusals >= self._max_attempts:
                for watch in list(self._watches.values()):
                    _resolve(watch, exc)
            else:
                log.warning(
                    "AssemblyAI refused the list request (%d of %d cycles in a row before every wait "
                    "fails); asking again next interval: %s",
                    self._list_refusals,
                    self._max_attempts,
                    exc,
                )
            return
        except AssemblyAIError as exc:
            log.warning("Listing transcripts failed; waits not seen are checked directly: %s", exc)
        else:
            self._list_refusals = 0
        await self._check_due(now, started)

    async def _check_due(self, now: float, started: float) -> None:
        """Settle listed errors; ask about each transcript due, at most once per its interval."""
        due = []
        for w in list(self._watches.values()):
            if not w.pending:
                continue
            if w.listed_status == "error" and w.listed_error:  # the list said it all: no request
                try:
                    judge_transcript(w.transcript_id, {"status": "error", "error": w.listed_error})
                except AssemblyAIError as exc:
                    _resolve(w, exc)
                    continue
            if (
                w.listed_status in ("completed", "error")
                or now - w.last_known >= DIRECT_CHECK_EVERY * w.interval
            ) and w.may_ask(started):
                w.last_asked = started
                due.append(w)
        if not due:
            return
        gate = asyncio.Semaphore(CHECK_CONCURRENCY)

        async def check(watch: _Watch) -> None:
            async with gate:
                await self._check(watch)

        await asyncio.gather(*(check(w) for w in due))

    async def _scan_list(self) -> None:
        """Read pages newest first until every listed waited transcript is seen; note each row."""
        unseen = {tid for tid, w in self._watches.items() if w.pending and not w.unlisted}
        if not unseen:
            return
        before_id: str | None = None
        now = time.time()
        for _ in range(MAX_LIST_PAGES):
            page = await self._hook.alist_transcript_page(limit=MAX_LIST_LIMIT, before_id=before_id)
            rows = [row for row in page.get("transcripts") or [] if isinstance(row, dict)]
            for row in rows:
                watch = self._watches.get(str(row.get("id")))
                if watch is not None:
                    watch.listed_status = row.get("status")
                    watch.listed_error = row.get("error")
                    watch.created = row.get("created")
                    watch.last_known = now
                    unseen.discard(watch.transcript_id)
            if not unseen or not rows or not (page.get("page_details") or {}).get("prev_url"):
                break
            oldest = rows[-1].get("created")
            if oldest and _all_newer(unseen, self._watches, str(oldest)):
                break  # every one still missing was seen before, higher up: it is gone from the list
            before_id = str(rows[-1]["id"])
        for tid in unseen:  # a whole scan missed them: only direct checks will see them now
            if tid in self._watches:
                self._watches[tid].unlisted = True

    async def _check(self, watch: _Watch) -> None:
        """Ask about one transcript directly; resolve its watch when ready or final."""
        tid = watch.transcript_id
        try:
            if watch.audio_format is None or watch.listed_status != "completed":
                # No format yet, or no completed row to go by (an error row without text, a
                # direct check): the transcript itself says whether to ask for the audio.
                transcript = await self._hook.aget_transcript(tid)
                watch.last_known = time.time()
                watch.refusals = 0
                if judge_transcript(tid, transcript) is not None:
                    return  # still queued or processing (an older list row, or a direct check)
                watch.audio_format = audio_format_of(transcript)
                watch.listed_status = "completed"
            ready = await self._hook.ais_redacted_audio_ready(tid)
            watch.last_known = time.time()
            watch.refusals = 0
        except AssemblyAITransientError as exc:
            log.warning("Transcript %s: transient fault, still waiting: %s", tid, exc)
            return
        except AssemblyAIAuthError as exc:  # maybe a blip, as for the list: asked again next time
            watch.refusals += 1
            if watch.refusals >= self._max_attempts:
                _resolve(watch, exc)
            else:
                log.warning(
                    "Transcript %s: refused (%d of %d in a row), still waiting",
                    tid,
                    watch.refusals,
                    self._max_attempts,
                )
            return
        except AssemblyAIError as exc:
            _resolve(watch, exc)
            return
        if ready:
            fmt = watch.audio_format or DEFAULT_AUDIO_FORMAT
            _resolve(watch, RedactionPoll(state="ready", reason="redacted_audio_ready", audio_format=fmt))


def _resolve(watch: _Watch, outcome: Outcome) -> None:
    if not watch.future.done():
        watch.future.set_result(outcome)


def _all_newer(unseen: set[str], watches: dict[str, _Watch], oldest_on_page: str) -> bool:
    """Return True when every unseen transcript was created after the oldest row read so far."""
    for tid in unseen:
        watch = watches.get(tid)
        if watch is None or watch.created is None or watch.created <= oldest_on_page:
            return False
    return True


# -- one poller per event loop and account ------------------------------------------------------

_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[AccountKey, SharedPoller]] = (
    weakref.WeakKeyDictionary()
)


def shared_poller(settings: ConnectionSettings, assemblyai_conn_id: str) -> SharedPoller:
    """Return the poller of this event loop for the account of ``settings``, creating it if needed."""
    pollers = _POLLERS.setdefault(asyncio.get_running_loop(), {})
    key = account_key(settings)
    poller = pollers.get(key)
    if poller is None:
        poller = pollers[key] = SharedPoller(key=key, assemblyai_conn_id=assemblyai_conn_id)
    return poller


def current_pollers() -> list[SharedPoller]:
    """Return the pollers running on this event loop (for diagnostics and tests)."""
    return list(_POLLERS.get(asyncio.get_running_loop(), {}).values())


def _forget(poller: SharedPoller) -> None:
    with contextlib.suppress(RuntimeError):
        pollers = _POLLERS.get(asyncio.get_running_loop(), {})
        if pollers.get(poller.key) is poller:
            del pollers[poller.key]
