"""Masking URLs in texts that came from elsewhere, and in the values a connection error shows."""

from __future__ import annotations

import pytest

from airflow_assemblyai.masking import mask_url, mask_urls_in


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Download error, unable to download https://b.s3.amazonaws.com/k.wav?X-Amz-Signature=abc.",
            "Download error, unable to download https://b.s3.amazonaws.com/***.",
        ),
        ("see (http://127.0.0.1:9/a?t=1), then", "see (http://127.0.0.1:9/***), then"),
        ("https://user:pw@host.test/", "https://host.test/***"),
        ("gs://bucket/object", "gs://bucket/***"),
        ("url 'https://cdn.example/upload/cap-token' refused", "url 'https://cdn.example/***' refused"),
        ("a host.test/k.wav?Signature=abc%2B here", "a host.test/k.wav?*** here"),
        (
            "plain https://api.assemblyai.com and https://x.test/",
            "plain https://api.assemblyai.com and https://x.test/",
        ),
        ("no url at all? fine=yes", "no url at all? fine=yes"),
        ("https://[broken/path?x=1", "https://***"),
        ("at 'https://h.test/p?a='x'&sig=5ecret' now", "at 'https://h.test/***' now"),
    ],
)
def test_mask_urls_in_keeps_only_each_urls_origin(text: str, expected: str) -> None:
    assert mask_urls_in(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.assemblyai.com", "https://api.assemblyai.com"),
        ("http://127.0.0.1:18701/base", "http://127.0.0.1:18701/base"),
        ("https://me:pw@api.example.test/v2?token=t#frag", "https://***@api.example.test/v2?***#***"),
        ("me:pw@api.example.test?t=1", "***@api.example.test?***"),
        ("127.0.0.1:18701", "127.0.0.1:18701"),
    ],
)
def test_mask_url_hides_userinfo_query_and_fragment(url: str, expected: str) -> None:
    assert mask_url(url) == expected
