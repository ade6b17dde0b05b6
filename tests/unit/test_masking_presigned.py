"""Pre-signed URL masking lives in ``airflow_assemblyai.masking``, beside the other masking rules."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from airflow_assemblyai import masking


def test_presigned_url_forms_names_the_url_and_each_query_value_raw_decoded_and_encoded() -> None:
    url = "https://b.test/k.wav?Signature=a%2Bb%2Fc%3D&Expires=1767225600"

    forms = masking.presigned_url_forms(url)

    assert url in forms
    assert {"a%2Bb%2Fc%3D", "a+b/c=", quote("a+b/c=", safe=""), "1767225600"} <= forms


def test_the_redirect_hook_masks_the_location_as_given_and_as_an_absolute_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[str] = []
    monkeypatch.setattr(masking, "mask_secret", registered.append)
    request = httpx.Request("GET", "https://api.test/start")
    response = httpx.Response(302, headers={"Location": "/k.wav?sig=s3cr3t"}, request=request)

    masking.mask_redirect_location(response)

    assert "/k.wav?sig=s3cr3t" in registered
    assert "https://api.test/k.wav?sig=s3cr3t" in registered
    assert "s3cr3t" in registered


def test_the_hook_module_defines_no_masking_of_its_own() -> None:
    from airflow_assemblyai.hooks import assemblyai

    assert assemblyai.mask_presigned_url is masking.mask_presigned_url
    assert not hasattr(assemblyai, "mask_redirect_location")  # the hook only uses the masking module's
    assert not hasattr(assemblyai, "_presigned_url_forms")
