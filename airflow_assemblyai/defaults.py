"""Defaults that the connection form and the hook share; this module imports nothing.

``get_provider_info()`` reads them while Airflow is still loading its configuration, so nothing
here may import Airflow or the rest of the provider.
"""

from __future__ import annotations

#: The speech model chain sent when neither the task nor the connection names one, in priority
#: order: what AssemblyAI documents for PII audio redaction, checked 2026-12-03 (docs/models.md).
#: Its PII redaction page lists universal-3-pro and universal-2; its changelog (2026-09-02) refuses
#: universal-3-pro and names Universal-3.5 Pro as the replacement, which a public live test
#: (2026-09-24) saw render redacted audio. assemblyai-stt-3-7 (newest, the default from 2026-12-08
#: for accounts naming no model) is left out: redacted audio is not documented for it (unverified,
#: 2026-12-03). Universal-3.5 Pro is reported deprecated (third-party notes, 2026-11-20); AssemblyAI
#: says a deprecated model works until retired with 90 days' notice. Change it per task
#: (``speech_models=``) or per connection (extra ``speech_models``), not here.
DEFAULT_SPEECH_MODELS: tuple[str, ...] = ("universal-3-5-pro", "universal-2")

#: Retry budget defaults: attempts per request, first backoff and longest wait, in seconds.
RETRY_DEFAULTS: dict[str, float] = {"max_attempts": 5, "retry_wait_initial": 1.0, "retry_wait_max": 60.0}
