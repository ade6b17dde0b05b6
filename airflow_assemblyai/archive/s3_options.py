"""What every file written to S3 carries: encryption, storage class, ACL, tags, Object Lock, checksum.

One frozen value, checked when it is made, so the KMS modes and the Object Lock pairing are written
once. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Server-side encryption modes under which S3's ETag is not the MD5 of the bytes.
KMS_ENCRYPTION = ("aws:kms", "aws:kms:dsse")
SSE_MODES = ("AES256", *KMS_ENCRYPTION)
OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


@dataclass(frozen=True)
class S3Options:
    """The S3 options of an archive; raises :class:`AssemblyAIInvalidInputError` naming the field when made.

    :param server_side_encryption: ``AES256`` (SSE-S3), ``aws:kms`` or ``aws:kms:dsse`` (SSE-KMS).
    :param sse_kms_key_id: KMS key for SSE-KMS; implies ``aws:kms`` when no mode is given.
    :param storage_class: S3 storage class, e.g. ``STANDARD_IA``.
    :param acl_policy: canned ACL, e.g. ``bucket-owner-full-control``.
    :param tags: object tags, as ``(name, value)`` pairs.
    :param checksum_algorithm: per-part checksum S3 verifies on the audio (``CRC32``...); None for none.
    :param object_lock_mode: ``GOVERNANCE`` or ``COMPLIANCE``; needs ``object_lock_retain_until``.
    :param object_lock_retain_until: retention end, a ``datetime`` or a ``timedelta`` from each write.
    :param object_lock_legal_hold: put a legal hold on every file written.
    """

    server_side_encryption: str | None = None
    sse_kms_key_id: str | None = None
    storage_class: str | None = None
    acl_policy: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    checksum_algorithm: str | None = "CRC32"
    object_lock_mode: str | None = None
    object_lock_retain_until: datetime | timedelta | None = None
    object_lock_legal_hold: bool = False

    @classmethod
    def of(cls, *, tags: Mapping[str, str] | None = None, **options: Any) -> S3Options:
        """Return the options with ``tags`` given as a mapping."""
        return cls(tags=tuple((tags or {}).items()), **options)

    def __post_init__(self) -> None:
        self._check_object_lock()
        if self.sse_kms_key_id and self.server_side_encryption not in (None, *KMS_ENCRYPTION):
            raise AssemblyAIInvalidInputError(
                f"sse_kms_key_id needs server_side_encryption 'aws:kms' or 'aws:kms:dsse', got "
                f"{self.server_side_encryption!r}: change it or drop sse_kms_key_id."
            )
        if self.server_side_encryption not in (None, *SSE_MODES):
            raise AssemblyAIInvalidInputError(
                f"server_side_encryption must be 'AES256', 'aws:kms' or 'aws:kms:dsse', got "
                f"{self.server_side_encryption!r}."
            )

    def _check_object_lock(self) -> None:
        if self.object_lock_mode not in (None, *OBJECT_LOCK_MODES):
            raise AssemblyAIInvalidInputError(
                f"object_lock_mode must be 'GOVERNANCE' or 'COMPLIANCE', got {self.object_lock_mode!r}."
            )
        if bool(self.object_lock_mode) != (self.object_lock_retain_until is not None):
            raise AssemblyAIInvalidInputError(
                "object_lock_mode and object_lock_retain_until go together: give both (a retention needs a "
                "mode and an end), or neither."
            )
        until = self.object_lock_retain_until
        if isinstance(until, timedelta) and until <= timedelta(0):
            raise AssemblyAIInvalidInputError("object_lock_retain_until must be a positive timedelta.")
        if isinstance(until, datetime) and until.tzinfo is None:
            raise AssemblyAIInvalidInputError(
                "object_lock_retain_until must be timezone-aware (e.g. pendulum or datetime with tzinfo=UTC)."
            )

    @property
    def encryption(self) -> str | None:
        """Return the server-side encryption mode, ``aws:kms`` when only a KMS key is given."""
        return self.server_side_encryption or ("aws:kms" if self.sse_kms_key_id else None)

    @property
    def uses_object_lock(self) -> bool:
        """Return True when an Object Lock option is set (only S3 has them)."""
        return bool(self.object_lock_mode or self.object_lock_legal_hold)

    def extra_args(self, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return boto3 ``ExtraArgs`` every file carries, over ``base`` (the S3 hook's ``extra_args``).

        The per-part checksum is the audio's alone (:attr:`checksum_algorithm`); a retention given as a
        ``timedelta`` counts from now.
        """
        args: dict[str, Any] = dict(base or {})
        if self.encryption:
            args["ServerSideEncryption"] = self.encryption
        if self.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        if self.acl_policy:
            args["ACL"] = self.acl_policy
        if self.tags:
            args["Tagging"] = urlencode(self.tags)
        if self.object_lock_mode:
            args["ObjectLockMode"] = self.object_lock_mode
            until = self.object_lock_retain_until
            args["ObjectLockRetainUntilDate"] = (
                datetime.now(UTC) + until if isinstance(until, timedelta) else until
            )
        if self.object_lock_legal_hold:
            args["ObjectLockLegalHoldStatus"] = "ON"
        return args

    def write_permissions(self) -> str:
        """Name the permissions a write needs with these options."""
        needs = ["s3:PutObject"]
        if self.tags:
            needs.append("s3:PutObjectTagging")
        if self.acl_policy:
            needs.append("s3:PutObjectAcl")
        if self.object_lock_mode:
            needs.append("s3:PutObjectRetention")
        if self.object_lock_legal_hold:
            needs.append("s3:PutObjectLegalHold")
        if self.encryption in KMS_ENCRYPTION:
            needs.append("kms:GenerateDataKey and kms:Decrypt on the KMS key")
        return ", ".join(needs) + " on the key"
