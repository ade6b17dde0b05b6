"""Defaults that the connection form and the hook share; this module imports nothing.

``get_provider_info()`` reads them while Airflow is still loading its configuration, so nothing
here may import Airflow or the rest of the provider.
"""

from __future__ import annotations

#: The speech model chain sent when neither the task nor the connection names one, in priority
#: order. Checked 2026-11-26 against AssemblyAI's own answer to a retired model (it names this chain
#: as the replacement), its model reference (Universal-3.5 Pro the recommended pre-recorded default)
#: and its PII redaction page (Universal-2 supports PII redaction). Change it per task
#: (``speech_models=``) or per connection (extra ``speech_models``), not here.
DEFAULT_SPEECH_MODELS: tuple[str, ...] = ("universal-3-5-pro", "universal-2")

#: Retry budget defaults: attempts per request, first backoff and longest wait, in seconds.
RETRY_DEFAULTS: dict[str, float] = {"max_attempts": 5, "retry_wait_initial": 1.0, "retry_wait_max": 60.0}
