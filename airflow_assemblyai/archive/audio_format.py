"""Tell a WAV or MP3 file from anything else by its first bytes, before it is archived.

An empty body or a proxy's HTML error page served with 200 must never be completed as audio, while
a real file must never be refused: WAV size fields are checked only where they state a size, so
RF64/BW64, sizes left unset (0), saturated (``0xFFFFFFFF``) or near the 32-bit maximum (streaming
writers), and sizes wrapped past 4 GiB all pass. Pure: no I/O.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from airflow_assemblyai.exceptions import RedactedAudioIntegrityError

if TYPE_CHECKING:
    from airflow_assemblyai.redaction import AudioFormat

#: The Content-Type each format is labelled with (AssemblyAI's file host says ``binary/octet-stream``).
AUDIO_CONTENT_TYPES: dict[AudioFormat, str] = {"mp3": "audio/mpeg", "wav": "audio/wav"}
#: Bytes of the file's start to look at: enough for a WAV's chunks before ``data`` in practice.
HEADER_BYTES = 64 * 1024
_U32_MAX = 0xFFFFFFFF
#: 32-bit sizes at or above this are placeholders some streaming writers put in a header.
_PLACEHOLDER_FLOOR = 0x7FFF0000


def check_audio_header(head: bytes, total: int | None, *, description: str) -> AudioFormat:
    """Return ``wav`` or ``mp3`` from a file's first bytes; raise when they are not that audio.

    :param head: the first bytes of the file (up to :data:`HEADER_BYTES`; all of it if shorter).
    :param total: the file's full length when known, to check WAV size fields against.
    :param description: what the file is, for messages.
    :raises RedactedAudioIntegrityError: an empty body, an HTML/XML page, bytes that are neither
        WAV nor MP3, or a WAV whose stated sizes reach past the end of the file (truncated).
    """
    if not head:
        raise RedactedAudioIntegrityError(
            f"The file host served an empty body for {description}; nothing was archived."
        )
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        _check_wav_sizes(head, total, description)
        return "wav"
    if _is_id3(head) or _is_mpeg_frame(head):
        return "mp3"
    if head.lstrip()[:1] == b"<":
        raise RedactedAudioIntegrityError(
            f"The file host served an HTML or XML page instead of {description} (an error page of a "
            "proxy or the host?); nothing was archived."
        )
    raise RedactedAudioIntegrityError(
        f"The file host served bytes that are neither WAV nor MP3 for {description} (they start with "
        f"{head[:8].hex()}); nothing was archived."
    )


def _check_wav_sizes(head: bytes, total: int | None, description: str) -> None:
    """Refuse a WAV whose RIFF, ds64 or data size reaches past the end of the file."""
    if total is None:
        return
    riff_size = _u32(head, 4)
    if head[:4] == b"RIFF":
        _check_size("RIFF size", 8, riff_size, total, description)
    offset = 12
    while offset + 8 <= len(head):
        chunk_id, size = head[offset : offset + 4], _u32(head, offset + 4)
        if chunk_id == b"ds64" and offset + 32 <= len(head):
            riff64, data64 = struct.unpack_from("<QQ", head, offset + 8)
            if riff64 and riff64 + 8 > total:
                _truncated("ds64 RIFF size", riff64 + 8, total, description)
            data_offset = _find_data_chunk(head, offset + 8 + size + (size & 1))
            if data64 and data_offset is not None and data_offset + 8 + data64 > total:
                _truncated("ds64 data size", data_offset + 8 + data64, total, description)
            return
        if chunk_id == b"data":
            if head[:4] == b"RIFF":
                _check_size("data size", offset + 8, size, total, description)
            return
        offset += 8 + size + (size & 1)


def _find_data_chunk(head: bytes, offset: int) -> int | None:
    while offset + 8 <= len(head):
        if head[offset : offset + 4] == b"data":
            return offset
        size = _u32(head, offset + 4)
        offset += 8 + size + (size & 1)
    return None


def _check_size(field: str, start: int, size: int, total: int, description: str) -> None:
    """Refuse ``start + size > total`` unless the 32-bit field cannot or does not state the size."""
    if size == 0 or size >= _PLACEHOLDER_FLOOR or total - start > _U32_MAX:
        return
    if start + size > total:
        _truncated(field, start + size, total, description)


def _truncated(field: str, needed: int, total: int, description: str) -> None:
    raise RedactedAudioIntegrityError(
        f"The WAV header of {description} states a {field} that needs {needed} bytes, but the file has "
        f"{total}: it is truncated; nothing was archived."
    )


def _u32(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", data, offset)[0])


def _is_id3(head: bytes) -> bool:
    """Return True for an ID3v2 tag header: ``ID3``, a version, flags and a syncsafe size."""
    return (
        len(head) >= 10
        and head[:3] == b"ID3"
        and head[3] < 0xFF
        and head[4] < 0xFF
        and all(b < 0x80 for b in head[6:10])
    )


def _is_mpeg_frame(head: bytes) -> bool:
    """Return True for an MPEG audio frame header (sync, and no reserved version/layer/rate)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0x3, (head[1] >> 1) & 0x3
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate != 0xF and sample_rate != 3
