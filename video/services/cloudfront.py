"""CloudFront signed URLs: production playback of the HLS ladder straight from the CDN.

When STRIDE_VIDEO_CLOUDFRONT_DOMAIN, STRIDE_VIDEO_CLOUDFRONT_KEY_PAIR_ID and
STRIDE_VIDEO_CLOUDFRONT_PRIVATE_KEY are set (config/settings/base.py reads them from the
environment), a video's playlists, segments, poster and thumbnails are served by CloudFront from
the media bucket (MediaConvert writes the ladder to `videos/<upload id>/hls/`). One signature
covers the whole folder: a custom policy whose resource is `https://<domain>/<hls path>/*` and
whose only condition is DateLessThan, now + STRIDE_VIDEO_CLOUDFRONT_URL_SECONDS. Playlists name
variants and segments relatively and a browser does not carry a query string over to relative
URLs, so the player adds the signed query (Policy, Signature, Key-Pair-Id) to every request it
makes to that folder. Without those settings the Stride-signed, session-bound URLs of
`playback` serve everything.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.utils import timezone

from video.models import LessonVideo

DEFAULT_URL_SECONDS = 1800


@dataclass(frozen=True)
class CloudFrontGrant:
    """Signed access to one video's HLS folder: `folder` + a file name + "?" + `query`."""

    folder: str
    query: str
    expires_at: datetime

    def url(self, name: str) -> str:
        return f"{self.folder}{name}?{self.query}"


def _setting(name: str, default: str = "") -> str:
    value = getattr(settings, name, None)
    return str(default if value in (None, "") else value).strip()


def cloudfront_enabled() -> bool:
    """Playback goes through CloudFront: its domain, key pair id and private key are set."""
    return all(
        _setting(name)
        for name in (
            "STRIDE_VIDEO_CLOUDFRONT_DOMAIN",
            "STRIDE_VIDEO_CLOUDFRONT_KEY_PAIR_ID",
            "STRIDE_VIDEO_CLOUDFRONT_PRIVATE_KEY",
        )
    )


def cloudfront_origin() -> str:
    """The scheme and host the browser fetches from (for the page's Content-Security-Policy)."""
    domain = _setting("STRIDE_VIDEO_CLOUDFRONT_DOMAIN").removeprefix("https://").rstrip("/")
    return f"https://{domain}"


def url_seconds() -> int:
    return int(_setting("STRIDE_VIDEO_CLOUDFRONT_URL_SECONDS", str(DEFAULT_URL_SECONDS)))


@functools.lru_cache(maxsize=4)
def _private_key(pem: str) -> Any:
    """The RSA key of the key pair: PEM text, or the path of a PEM file."""
    data = pem if pem.startswith("-----BEGIN") else Path(pem).read_text()
    # Environment variables often carry the PEM's newlines escaped.
    return serialization.load_pem_private_key(data.replace("\\n", "\n").encode(), password=None)


def _signer() -> CloudFrontSigner:
    key = _private_key(_setting("STRIDE_VIDEO_CLOUDFRONT_PRIVATE_KEY"))

    def rsa_signer(message: bytes) -> bytes:
        # CloudFront verifies RSA-SHA1 with PKCS #1 v1.5 padding.
        return key.sign(message, padding.PKCS1v15(), hashes.SHA1())

    return CloudFrontSigner(_setting("STRIDE_VIDEO_CLOUDFRONT_KEY_PAIR_ID"), rsa_signer)


def cloudfront_grant(*, video: LessonVideo) -> CloudFrontGrant:
    """A short-lived custom-policy signature for every file of `video`'s HLS folder."""
    folder = f"{cloudfront_origin()}/{video.hls_path.strip('/')}/"
    expires_at = timezone.now() + timedelta(seconds=url_seconds())
    signer = _signer()
    policy = signer.build_policy(f"{folder}*", date_less_than=expires_at)
    signed = signer.generate_presigned_url(f"{folder}*", policy=policy)
    return CloudFrontGrant(
        folder=folder,
        query=signed.split("?", 1)[1],
        expires_at=expires_at.replace(microsecond=0),
    )
