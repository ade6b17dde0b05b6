"""Rules about HTTP answers shared by the API hook, the shared poller and the download stream."""

from __future__ import annotations

import email.utils
import time

#: Answers worth asking again: a timeout, a rate limit or a passing server fault.
RETRYABLE_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})


def retry_after_seconds(value: str | None) -> float | None:
    """Parse ``Retry-After`` (seconds or an HTTP date) into seconds, or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
