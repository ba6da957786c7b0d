"""A Web Push service stand-in on loopback, for the tests: it does what a browser vendor's
push service does with our requests, strictly.

Each subscriber (`PushService.subscriber()`) has its own P-256 key pair and auth secret, as a
browser would. A POST to a subscriber's endpoint must carry a VAPID `Authorization: vapid
t=<JWT>, k=<key>` whose ES256 signature verifies with `k`, whose audience is this service's
origin, whose expiry is in the next 24 hours and whose subject is a mailto: or https: URL; a
TTL header; and an aes128gcm body, which the service decrypts with the subscriber's private
key and auth secret (RFC 8291). A request failing any of that gets 400/401/403 with the
reason; an expired subscriber gets 410. Accepted messages are kept, decrypted, in `received`.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    gone: bool = False
    fail_with: int | None = None  # answer this status instead (a push service in trouble)

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth_b64(self) -> str:
        return b64url(self.auth)

    def subscription_json(self) -> dict[str, Any]:
        """As the browser's PushSubscription.toJSON() gives it."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth_b64},
        }


@dataclass
class Received:
    token: str
    payload: dict[str, Any]
    vapid_key: str
    claims: dict[str, Any]
    ttl: int


@dataclass
class PushService:
    origin: str
    server_public_key: str = ""  # when set, the only VAPID key accepted (the application's)
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def subscriber(self) -> Subscriber:
        token = secrets.token_urlsafe(12)
        sub = Subscriber(
            token=token,
            endpoint=f"{self.origin}/push/{token}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=secrets.token_bytes(16),
        )
        self.subscribers[token] = sub
        return sub

    # --- the checks a push service makes ------------------------------------------------

    def accept(self, token: str, headers: Any, body: bytes) -> tuple[int, str]:
        sub = self.subscribers.get(token)
        if sub is None or sub.gone:
            return 410, "subscription expired"
        if sub.fail_with:
            return sub.fail_with, "service unavailable"
        scheme, _, params = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "vapid":
            return 401, "no VAPID authorization"
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        jwt, key = parts.get("t", ""), parts.get("k", "")
        if self.server_public_key and key != self.server_public_key:
            return 403, "not the application server key the subscription was made with"
        try:
            claims = self._verify_jwt(jwt, key)
        except (ValueError, InvalidSignature) as exc:
            return 403, f"bad VAPID signature: {exc}"
        if claims.get("aud") != self.origin:
            return 403, f"audience {claims.get('aud')!r} is not {self.origin}"
        if not (time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600):
            return 403, "expiry not within 24 hours"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return 403, "subject is not a mailto: or https: URL"
        if headers.get("TTL") is None:
            return 400, "no TTL header"
        if headers.get("Content-Encoding") != "aes128gcm":
            return 415, "payload not aes128gcm"
        try:
            plain = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
        except Exception as exc:
            return 400, f"cannot decrypt: {exc}"
        self.received.append(
            Received(token, json.loads(plain), key, claims, int(headers.get("TTL")))
        )
        return 201, f"/messages/{len(self.received)}"

    @staticmethod
    def _verify_jwt(jwt: str, key: str) -> dict[str, Any]:
        header_b64, payload_b64, signature_b64 = jwt.split(".")
        header = json.loads(unb64url(header_b64))
        if header.get("alg") != "ES256":
            raise ValueError(f"alg {header.get('alg')}")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        raw = unb64url(signature_b64)
        if len(raw) != 64:
            raise ValueError("signature is not 64 bytes")
        signature = encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )
        public.verify(signature, f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        return json.loads(unb64url(payload_b64))


def start() -> tuple[PushService, ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    service = PushService(origin=f"http://127.0.0.1:{server.server_address[1]}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            token = self.path.removeprefix("/push/")
            status, detail = service.accept(token, self.headers, body)
            if status >= 400:
                service.refused.append(f"{status} {detail}")
            self.send_response(status)
            if status == 201:
                self.send_header("Location", f"{service.origin}{detail}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return service, server
