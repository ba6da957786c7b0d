"""Production playback through CloudFront signed URLs, checked with a key pair made here: the
signature verifies with the public key, the policy covers the video's folder only and expires
when configured; without the settings the Stride-signed URLs stay the default."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import UserFactory
from tests.learning.factories import EnrollmentFactory, LessonFactory
from tests.video.factories import video_ready

pytestmark = pytest.mark.django_db

DOMAIN = "d111111abcdef8.cloudfront.net"


@pytest.fixture(scope="module")
def key_pair():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def cloudfront(settings, key_pair):
    settings.STRIDE_VIDEO_CLOUDFRONT_DOMAIN = DOMAIN
    settings.STRIDE_VIDEO_CLOUDFRONT_KEY_PAIR_ID = "K2JCJMDEHXQW5F"
    settings.STRIDE_VIDEO_CLOUDFRONT_PRIVATE_KEY = key_pair.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    settings.STRIDE_VIDEO_CLOUDFRONT_URL_SECONDS = 600
    return key_pair.public_key()


@pytest.fixture
def video():
    video = video_ready(LessonFactory(), duration=30)
    video.thumbnail_name = "poster.jpg"  # as the transcoder names it
    video.save(update_fields=["thumbnail_name"])
    return video


def cf_b64decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def player_config(video) -> tuple[dict, dict]:
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=video.lesson.course)
    client = Client()
    client.force_login(learner)
    page = client.get(f"/me/videos/{video.lesson.external_id}/")
    assert page.status_code == 200
    raw = re.search(
        r'<script id="player-config" type="application/json">(.*?)</script>', page.content.decode()
    )
    return json.loads(raw.group(1)), page


def signed_parts(url: str) -> tuple[str, dict[str, str], bytes, dict]:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    policy_bytes = cf_b64decode(query["Policy"])
    return (
        f"{parts.scheme}://{parts.netloc}{parts.path}",
        query,
        policy_bytes,
        json.loads(policy_bytes),
    )


def test_the_player_gets_cloudfront_urls_whose_signature_verifies(cloudfront, video):
    before = timezone.now()
    config, page = player_config(video)
    after = timezone.now()

    folder = f"https://{DOMAIN}/videos/{video.upload_id}/hls/"
    address, query, policy_bytes, policy = signed_parts(config["src"])
    assert address == folder + "master.m3u8"
    assert set(query) == {"Policy", "Signature", "Key-Pair-Id"}
    assert query["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    # CloudFront checks RSA-SHA1 over the policy exactly as sent.
    cloudfront.verify(
        cf_b64decode(query["Signature"]), policy_bytes, padding.PKCS1v15(), hashes.SHA1()
    )
    forged = policy_bytes.replace(b"/hls/*", b"/*")
    with pytest.raises(InvalidSignature):
        cloudfront.verify(
            cf_b64decode(query["Signature"]), forged, padding.PKCS1v15(), hashes.SHA1()
        )

    (statement,) = policy["Statement"]
    assert statement["Resource"] == folder + "*"  # this video's files, nobody else's
    expires = statement["Condition"]["DateLessThan"]["AWS:EpochTime"]
    assert (before + timedelta(seconds=600)).timestamp() - 1 <= expires
    assert expires <= (after + timedelta(seconds=600)).timestamp()
    # The player signs the playlists' relative requests with the same query.
    assert config["signedFolder"] == folder
    assert config["signedQuery"] == urlsplit(config["src"]).query
    assert config["poster"] == f"{folder}{video.thumbnail_name}?{config['signedQuery']}"
    csp = page["Content-Security-Policy"]
    for directive in ("connect-src", "media-src", "img-src"):
        assert re.search(rf"{directive} [^;]*https://{DOMAIN}", csp), csp


def test_the_expiry_follows_the_setting_and_each_page_load_signs_afresh(
    cloudfront, video, settings
):
    settings.STRIDE_VIDEO_CLOUDFRONT_URL_SECONDS = 60
    issued = timezone.now().timestamp()
    config, _ = player_config(video)
    policy = signed_parts(config["src"])[3]
    expires = policy["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"]
    assert issued + 59 <= expires <= issued + 61

    settings.STRIDE_VIDEO_CLOUDFRONT_URL_SECONDS = 3600
    later, _ = player_config(video)
    policy = signed_parts(later["src"])[3]
    assert policy["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"] >= expires + 3500


def test_integrators_get_cloudfront_urls_too(cloudfront, video, make_key):
    body = make_key("courses:read").get(f"/api/v1/lessons/{video.lesson.external_id}/video/").json()
    address, query, policy_bytes, _ = signed_parts(body["hls_url"])
    assert address == f"https://{DOMAIN}/videos/{video.upload_id}/hls/master.m3u8"
    cloudfront.verify(
        cf_b64decode(query["Signature"]), policy_bytes, padding.PKCS1v15(), hashes.SHA1()
    )


def test_a_private_key_with_escaped_newlines_as_environment_variables_carry_it(
    settings, key_pair, video
):
    pem = key_pair.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    settings.STRIDE_VIDEO_CLOUDFRONT_DOMAIN = DOMAIN
    settings.STRIDE_VIDEO_CLOUDFRONT_KEY_PAIR_ID = "KENV"
    settings.STRIDE_VIDEO_CLOUDFRONT_PRIVATE_KEY = pem.replace("\n", "\\n")
    config, _ = player_config(video)
    _, query, policy_bytes, _ = signed_parts(config["src"])
    assert query["Key-Pair-Id"] == "KENV"
    key_pair.public_key().verify(
        cf_b64decode(query["Signature"]), policy_bytes, padding.PKCS1v15(), hashes.SHA1()
    )


def test_without_cloudfront_settings_the_stride_signed_urls_remain(video):
    config, page = player_config(video)
    assert config["src"].startswith("/video/hls/") and config["src"].endswith("/master.m3u8")
    assert config["signedQuery"] == "" and config["signedFolder"] == ""
    assert "cloudfront" not in page["Content-Security-Policy"]
