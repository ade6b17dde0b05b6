"""One managed S3 upload with what boto3's managed transfer does not offer: create-only, cancel.

s3transfer accepts no ``IfNoneMatch`` in ``ExtraArgs``, keeps reading a non-seekable stream after it
was cancelled, and does not say which multipart upload it opened. :class:`GuardedUpload` adds these
through botocore's event hooks on the client, registered for the one upload and removed after it:

* with ``create_only``, ``If-None-Match: *`` goes on ``PutObject`` and ``CompleteMultipartUpload``,
  so S3 completes the object only if the key is still free when it completes (a 412 otherwise);
* the multipart upload id is remembered, so :meth:`GuardedUpload.cancel` can abort it from another
  thread (``on_kill``), and no upload request is sent once cancelled.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from airflow_assemblyai.archive.s3_errors import s3_error_code
from airflow_assemblyai.exceptions import AssemblyAITransientError

if TYPE_CHECKING:
    import io
    from collections.abc import Callable

    from boto3.s3.transfer import TransferConfig

log = logging.getLogger(__name__)

#: The requests that write the object; none is sent once an upload is cancelled.
_WRITES = frozenset({"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"})
#: The requests that complete an object, where ``If-None-Match: *`` belongs.
_COMPLETIONS = ("PutObject", "CompleteMultipartUpload")
_ids = itertools.count()


class GuardedUpload:
    """Upload a file object to ``bucket``/``key`` through boto3's managed transfer, create-only if asked.

    :param client: the S3 client (``S3Hook.get_conn()``); event hooks are added for the upload only.
    :param bucket: destination bucket.
    :param key: destination key.
    :param extra_args: boto3 ``ExtraArgs`` (metadata, content type, encryption...).
    :param config: the managed-transfer configuration (``S3Hook.transfer_config``).
    :param create_only: send ``If-None-Match: *`` so an object already at the key is never replaced.
    """

    def __init__(
        self,
        *,
        client: Any,
        bucket: str,
        key: str,
        extra_args: dict[str, Any],
        config: TransferConfig,
        create_only: bool,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.extra_args = extra_args
        self.config = config
        self.create_only = create_only
        self._lock = threading.Lock()
        self._upload_id: str | None = None
        self._cancelled = False
        self._hook_id = f"airflow-assemblyai-upload-{next(_ids)}"

    # -- the upload ---------------------------------------------------------------------------

    def run(self, fileobj: io.RawIOBase, *, on_interrupt: Callable[[], None]) -> None:
        """Upload ``fileobj``; raise what the upload raised, after every request it sent has ended.

        When this thread is interrupted while the upload runs (an execution timeout, say),
        ``on_interrupt`` is called (it must stop the stream) and the multipart upload is aborted
        *before* waiting for the upload's threads, which would otherwise read the stream to its end.
        """
        from boto3.s3.transfer import create_transfer_manager

        hooks = self._event_hooks()
        events = self.client.meta.events
        for name, handler in hooks:
            events.register(name, handler, unique_id=f"{self._hook_id}-{name}")
        manager = create_transfer_manager(self.client, self.config)
        failed = True
        try:
            future = manager.upload(fileobj, self.bucket, self.key, extra_args=self.extra_args)
            try:
                future.result()
            except BaseException:
                if not future.done():
                    on_interrupt()
                    self.cancel()
                raise
            failed = False
        finally:
            manager.shutdown(cancel=failed)
            for name, _ in hooks:
                events.unregister(name, unique_id=f"{self._hook_id}-{name}")
            self._abort_if_open()

    def cancel(self) -> None:
        """Send no further upload request and abort the open multipart upload; safe from any thread."""
        with self._lock:
            self._cancelled = True
        self._abort_if_open()

    @property
    def upload_id(self) -> str | None:
        """Return the id of the multipart upload opened and not yet completed or aborted, if any."""
        with self._lock:
            return self._upload_id

    # -- event hooks ----------------------------------------------------------------------------

    def _event_hooks(self) -> list[tuple[str, Callable[..., Any]]]:
        hooks: list[tuple[str, Callable[..., Any]]] = [
            ("before-call.s3", self._refuse_once_cancelled),
            ("after-call.s3.CreateMultipartUpload", self._remember_upload),
            ("after-call.s3.CompleteMultipartUpload", self._forget_upload),
            ("after-call.s3.AbortMultipartUpload", self._forget_upload),
        ]
        if self.create_only:
            hooks += [(f"before-parameter-build.s3.{name}", self._create_only) for name in _COMPLETIONS]
        return hooks

    def _ours(self, params: dict[str, Any]) -> bool:
        return params.get("Bucket") == self.bucket and params.get("Key") == self.key

    def _create_only(self, params: dict[str, Any], **_: Any) -> None:
        if self._ours(params):
            params["IfNoneMatch"] = "*"

    def _refuse_once_cancelled(self, model: Any, **_: Any) -> None:
        with self._lock:
            cancelled = self._cancelled
        if cancelled and model.name in _WRITES:
            raise AssemblyAITransientError(
                f"The upload to s3://{self.bucket}/{self.key} was cancelled (the task is being stopped)."
            )

    def _remember_upload(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        if http_response.status_code != 200 or not self._ours(parsed) or not parsed.get("UploadId"):
            return
        with self._lock:
            self._upload_id = str(parsed["UploadId"])
            cancelled = self._cancelled
        if cancelled:
            self._abort_if_open()

    def _forget_upload(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        error = (parsed.get("Error") or {}).get("Code")
        if (http_response.status_code < 300 and not error) or error == "NoSuchUpload":
            with self._lock:
                self._upload_id = None

    def _abort_if_open(self) -> None:
        with self._lock:
            upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
        except ClientError as exc:
            if s3_error_code(exc)[0] != "NoSuchUpload":
                log.warning(
                    "Could not abort the multipart upload to s3://%s/%s (%s); an "
                    "AbortIncompleteMultipartUpload lifecycle rule will remove it.",
                    self.bucket,
                    self.key,
                    s3_error_code(exc)[0],
                )
            return
        log.warning("Aborted the multipart upload to s3://%s/%s.", self.bucket, self.key)
