"""The emulator's state: transcripts, uploads, scripted faults and request counters, with its test API."""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_assemblyai.testing.audio import render_redacted, synth_wav, write_large_wav
from airflow_assemblyai.testing.emulator.faults import Faults
from airflow_assemblyai.testing.emulator.rules import ACCEPTED_MODELS

if TYPE_CHECKING:
    from fastapi import Request


@dataclass
class RecordedRequest:
    """One request the emulator answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    transcript_id: str | None
    kind: str


@dataclass(frozen=True)
class ScheduledTranscript:
    """A transcript of a completion profile: when it completes and when its redacted audio is ready."""

    id: str
    #: Epoch seconds at which the transcript turns ``completed``.
    completes_at: float
    #: Epoch seconds from which ``GET .../redacted-audio`` answers 200 (``completes_at`` + render time).
    ready_at: float


@dataclass
class TranscriptRecord:
    """One transcript the emulator holds: its request, faults, source audio and rendered file."""

    id: str
    params: dict[str, Any]
    faults: Faults
    created: float
    source: bytes
    forced_status: str | None = None
    completed_at: float | None = None
    file: Path | None = None
    file_format: str = "wav"
    etag: str = ""
    duration: float = 0.0
    expired: bool = False
    deleted: bool = False


class EmulatorState:
    """The emulator's state and its test API; thread-safe (hold ``lock`` to read or change it)."""

    def __init__(
        self,
        *,
        api_key: str = "emulator-key",
        processing_seconds: float = 1.0,
        storage_dir: Path | None = None,
        strict: bool = True,
    ) -> None:
        self.api_key = api_key
        #: Refuse what AssemblyAI refuses: unknown request fields, URLs it cannot download, non-audio.
        self.strict = strict
        self.processing_seconds = processing_seconds
        self._own_storage = storage_dir is None
        self.storage = Path(storage_dir or tempfile.mkdtemp(prefix="aai-emulator-"))
        self.storage.mkdir(parents=True, exist_ok=True)
        self.base_url = ""
        self.next_faults: Faults | None = None
        self.requests: list[RecordedRequest] = []
        #: JSON bodies of every ``POST /v2/transcript``, accepted or refused, as received.
        self.submissions: list[Any] = []
        self.violations: list[str] = []
        #: Distinct (host, port) TCP connections seen.
        self.clients: set[tuple[str, int]] = set()
        #: Statuses (with a Retry-After) answered to the next API requests (``queue_responses``).
        self.queued: list[tuple[int, int | None]] = []
        self.transcripts: dict[str, TranscriptRecord] = {}
        self.uploads: dict[str, Path] = {}
        #: Key of the file host's URL signatures.
        self.secret = secrets.token_bytes(32)
        #: Body bytes of each transcript's redacted audio the file host has sent.
        self.served: dict[str, int] = {}
        #: Session tokens the file host treats as expired, with the error code it answers them.
        self.dead_tokens: dict[str, str] = {}
        self.lock = threading.RLock()

    # -- test API ----------------------------------------------------------------------------

    def add_transcript(
        self,
        *,
        audio: bytes | None = None,
        status: str = "completed",
        params: dict[str, Any] | None = None,
        faults: Faults | None = None,
    ) -> str:
        """Seed a transcript directly (``status`` queued, processing, completed or error); return its id."""
        faults = faults or Faults()
        if status == "error" and faults.error is None:
            faults.error = "Transcoding failed."
        now = time.time()
        record = TranscriptRecord(
            id=str(uuid.uuid4()),
            params={
                "audio_url": "https://example.invalid/seeded.wav",
                "speech_models": list(ACCEPTED_MODELS),
                **(params or {}),
            },
            faults=faults,
            created=now,
            source=audio if audio is not None else synth_wav(),
            forced_status=None if status in ("completed", "error") else status,
        )
        if status in ("completed", "error"):
            record.completed_at = now
        with self.lock:
            self.transcripts[record.id] = record
        return record.id

    def finish(self, transcript_id: str) -> None:
        """End a seeded ``queued`` or ``processing`` transcript now: ``error`` if its faults say so."""
        with self.lock:
            record = self.record_of(transcript_id)
            record.forced_status = None
            record.completed_at = time.time()

    def add_completion_profile(
        self,
        *,
        waited: int,
        unwaited: int | None = None,
        window_seconds: float = 600.0,
        render_seconds: tuple[float, float] = (5.0, 30.0),
        seed: int = 0,
    ) -> list[ScheduledTranscript]:
        """Seed transcripts that complete at random times across a window; return the waited ones.

        All are created now (``waited`` + ``unwaited``, shuffled in creation order, ``unwaited``
        defaulting to as many as ``waited``: the account's other work, which nobody waits on).
        Each completes at a uniformly random moment of ``window_seconds`` and its redacted audio is
        ready a uniformly random ``render_seconds`` later (202 before). All share one source and
        one rendered file, so seeding ten thousand costs one render.
        """
        rng = random.Random(seed)
        unwaited = waited if unwaited is None else unwaited
        roles = [True] * waited + [False] * unwaited
        rng.shuffle(roles)
        source = synth_wav()
        now = time.time()
        schedule: list[ScheduledTranscript] = []
        with self.lock:
            shared: TranscriptRecord | None = None
            for index, is_waited in enumerate(roles):
                completes_in = rng.uniform(0.0, window_seconds)
                render = rng.uniform(*render_seconds)
                record = TranscriptRecord(
                    id=str(uuid.uuid4()),
                    params={
                        "audio_url": "https://example.invalid/profile.wav",
                        "speech_models": list(ACCEPTED_MODELS),
                        "redact_pii": True,
                        "redact_pii_audio": True,
                        "redact_pii_policies": ["person_name"],
                    },
                    faults=Faults(processing_seconds=completes_in, render_seconds=render),
                    created=now + index * 1e-6,  # distinct, in creation order
                    source=source,
                )
                if shared is None:
                    self.render(record)
                    shared = record
                record.file, record.file_format, record.etag, record.duration = (
                    shared.file,
                    shared.file_format,
                    shared.etag,
                    shared.duration,
                )
                self.transcripts[record.id] = record
                if is_waited:
                    ready = record.created + completes_in + render
                    schedule.append(ScheduledTranscript(record.id, record.created + completes_in, ready))
        return schedule

    def set_faults(self, transcript_id: str, faults: Faults) -> None:
        """Replace the faults of a transcript."""
        with self.lock:
            self.record_of(transcript_id).faults = faults

    def queue_responses(self, statuses: list[int], retry_after: int | None = None) -> None:
        """Answer the next ``len(statuses)`` API requests with these statuses, in order."""
        with self.lock:
            self.queued.extend((s, retry_after) for s in statuses)

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """Count recorded requests by method and path prefix."""
        with self.lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            )

    @property
    def connections_seen(self) -> int:
        """Return the number of distinct TCP connections seen."""
        with self.lock:
            return len(self.clients)

    @property
    def sample_audio_url(self) -> str:
        """Return a URL of a generated WAV that this emulator can download, as AssemblyAI downloads any
        public URL (a strict emulator fails a transcript whose ``audio_url`` it cannot reach)."""
        return f"{self.base_url}/_samples/call.wav"

    def redacted_audio_path(self, transcript_id: str) -> Path:
        """Return the file the download URL serves for a transcript (rendering it if needed)."""
        with self.lock:
            record = self.record_of(transcript_id)
            return self.render(record)

    def redacted_audio(self, transcript_id: str) -> bytes:
        """Return exactly the bytes the download URL serves."""
        return self.redacted_audio_path(transcript_id).read_bytes()

    def corrupt_redacted_audio(self, transcript_id: str, offset: int) -> None:
        """Flip one byte of the served file at ``offset`` (from the end when negative), keeping its
        length and the ETag (the MD5 of the bytes as rendered): a download then fails its MD5 check."""
        with self.redacted_audio_path(transcript_id).open("r+b") as handle:
            handle.seek(offset, os.SEEK_END if offset < 0 else os.SEEK_SET)
            byte = handle.read(1)
            handle.seek(-1, os.SEEK_CUR)
            handle.write(bytes([byte[0] ^ 0xFF]))

    def expire(self, transcript_id: str) -> None:
        """Make the redacted file gone, as after 24 hours."""
        with self.lock:
            self.record_of(transcript_id).expired = True

    def deleted(self, transcript_id: str) -> bool:
        """Return whether a transcript was deleted."""
        with self.lock:
            return self.record_of(transcript_id).deleted

    def reset(self) -> None:
        """Forget every transcript, upload, request and scripted fault."""
        with self.lock:
            self.transcripts.clear()
            self.uploads.clear()
            self.requests.clear()
            self.submissions.clear()
            self.violations.clear()
            self.queued.clear()
            self.served.clear()
            self.dead_tokens.clear()
            self.next_faults = None

    def close(self) -> None:
        """Remove the storage directory when the emulator made it."""
        if self._own_storage:
            shutil.rmtree(self.storage, ignore_errors=True)

    # -- for the routes ------------------------------------------------------------------------

    def record_of(self, transcript_id: str) -> TranscriptRecord:
        """Return a transcript's record; raise KeyError for an id the emulator never made."""
        record = self.transcripts.get(transcript_id)
        if record is None:
            raise KeyError(transcript_id)
        return record

    def status_of(self, record: TranscriptRecord) -> str:
        """Return the record's status now: forced, or queued, processing, completed or error by its clock."""
        if record.forced_status:
            return record.forced_status
        if record.completed_at is not None:
            return "error" if record.faults.error else "completed"
        seconds = record.faults.processing_seconds
        seconds = self.processing_seconds if seconds is None else seconds
        elapsed = time.time() - record.created
        if elapsed < seconds / 3:
            return "queued"
        if elapsed < seconds:
            return "processing"
        if record.completed_at is None:
            record.completed_at = record.created + seconds
        return "error" if record.faults.error else "completed"

    def render(self, record: TranscriptRecord) -> Path:
        """Return the record's redacted file, rendering it (and its MD5 ETag) on first use."""
        if record.file is not None:
            return record.file
        wanted = "wav" if record.params.get("redact_pii_audio_quality") == "wav" else "mp3"
        if record.faults.redacted_size_bytes:
            path = self.storage / f"{record.id}.wav"
            write_large_wav(path, record.faults.redacted_size_bytes)
            fmt, duration = "wav", record.faults.redacted_size_bytes / 32_000
        else:
            options = record.params.get("redact_pii_audio_options") or {}
            silence = options.get("override_audio_redaction_method") == "silence"
            data, fmt, duration = render_redacted(
                record.source, fmt=wanted, silence=silence, skip=record.faults.unredacted_spans
            )
            path = self.storage / f"{record.id}.{fmt}"
            path.write_bytes(data)
        digest = hashlib.md5()
        with path.open("rb") as handle:
            while chunk := handle.read(4 * 1024 * 1024):
                digest.update(chunk)
        record.file, record.file_format, record.etag, record.duration = (
            path,
            fmt,
            digest.hexdigest(),
            duration,
        )
        return path

    def served_bytes(self, transcript_id: str) -> int:
        """Return how many body bytes of a transcript's redacted audio the file host has sent."""
        with self.lock:
            return self.served.get(transcript_id, 0)


def emulator_of(request: Request) -> EmulatorState:
    """Return the emulator whose app answers ``request`` (each route reaches its state through this)."""
    state: EmulatorState = request.app.state.emulator
    return state
