"""What the emulator knows about AssemblyAI's pre-recorded speech models, and how it answers each.

Read 2026-12-03. Where the sources disagree, the emulator picks one answer per model and says whose:

- AssemblyAI's model versions and deprecations page (assemblyai.com/docs/getting-started/
  model-versions-and-deprecations): ``assemblyai-stt-3-7`` is the newest pre-recorded model, the
  default from 2026-12-08 for accounts that name no model; a *deprecated* model "still works as
  before" until it is retired, with at least 90 days' notice; a *retired* model is routed to its
  replacement.
- AssemblyAI's changelog (the change of 2026-09-02): ``"speech_models": ["universal"]`` is upgraded to
  Universal-3.5 Pro (routed), while ``["universal-3-pro"]`` returns an error naming Universal-3.5 Pro
  as its replacement (refused): so for ``universal-3-pro`` AssemblyAI's own pages disagree (routed
  by the deprecations page, refused by the changelog and by users' reports since July 2026). The
  emulator refuses it, as the changelog and the reports describe.
- Vercel's ``@ai-sdk/assemblyai`` release notes (3.0.85, 2026-11-20): ``universal-3-5-pro`` is
  deprecated and ``universal-3-pro`` no longer accepted; ``best`` and ``slam-1`` are refused with
  an error listing the accepted models. A deprecated model still runs (AssemblyAI's page), so the
  emulator runs ``universal-3-5-pro`` as itself.
- Which models render redacted audio: AssemblyAI's PII redaction page lists ``universal-3-pro`` and
  ``universal-2``; a public live test (2026-09-24) saw ``universal-3-5-pro`` render it. Nothing
  documents it for ``assemblyai-stt-3-7`` (unverified, 2026-12-03): the emulator completes its
  transcripts and answers their redacted audio as "doesn't exist", the failure a pipeline must
  report when its chain drifts onto a model without redacted audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The chain AssemblyAI's refusal of a retired model names as the replacement.
REPLACEMENT_CHAIN = ("universal-3-5-pro", "universal-2")
MODEL_DOCS = "https://www.assemblyai.com/docs/pre-recorded-audio/select-the-speech-model"


@dataclass(frozen=True)
class SpeechModel:
    """One speech model as the emulator answers it."""

    status: Literal["ga", "deprecated", "retired"]
    #: Whether a transcript that ran on it has redacted audio (when ``redact_pii_audio`` was asked).
    renders_redacted_audio: bool = True
    #: For a retired model: the model its requests are routed to, or None when they are refused.
    routed_to: str | None = None


MODELS: dict[str, SpeechModel] = {
    "assemblyai-stt-3-7": SpeechModel("ga", renders_redacted_audio=False),  # unverified, see above
    "universal-3-5-pro": SpeechModel("deprecated"),
    "universal-2": SpeechModel("ga"),
    "universal": SpeechModel("retired", routed_to="universal-3-5-pro"),
    "universal-3-pro": SpeechModel("retired"),
    "best": SpeechModel("retired"),
    "nano": SpeechModel("retired"),
    "slam-1": SpeechModel("retired"),
}


def chain_refusal(chain: list[str]) -> str | None:
    """Return the 400 text for a chain naming a refused or unknown model, or None when it runs."""
    refused = [m for m in chain if m in MODELS and MODELS[m].status == "retired" and not MODELS[m].routed_to]
    if refused:
        named = ", ".join(f'"{m}"' for m in refused)
        replacement = ", ".join(f'"{m}"' for m in REPLACEMENT_CHAIN)
        return (
            f"The {named} speech model(s) have been deprecated. Use speech_models: [{replacement}] instead."
        )
    unknown = [m for m in chain if m not in MODELS]
    if unknown:
        return f"Unknown speech model(s): {', '.join(unknown)}. See {MODEL_DOCS}"
    return None


def model_used(chain: list[str] | tuple[str, ...]) -> str:
    """Return the model a transcript runs on: the first of its chain, or what a retired one is routed to."""
    first = str(chain[0])
    model = MODELS.get(first)
    return model.routed_to if model is not None and model.routed_to else first


def renders_redacted_audio(model: str) -> bool:
    """Return whether a transcript that ran on ``model`` has redacted audio."""
    known = MODELS.get(model)
    return known is None or known.renders_redacted_audio
