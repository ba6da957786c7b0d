"""A learning platform for LTI tests: its own RSA keys, its JWKS served over real HTTP from
127.0.0.1, and id_tokens signed as a platform signs them.

Stride's code fetches the key set with `requests` exactly as it would from Moodle or Canvas;
nothing of ours is replaced.
"""

from __future__ import annotations

import html
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from django.test import Client
from jwcrypto.jwk import JWK

ISSUER = "https://moodle.example.edu"
CLIENT_ID = "stride-tool-1"
DEPLOYMENT_ID = "deployment-1"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


class PlatformKey:
    """An RSA key pair of the platform, with the key id its JWKS names it by."""

    def __init__(self, kid: str | None = None) -> None:
        self.jwk = JWK.generate(kty="RSA", size=2048)
        self.kid = kid or uuid.uuid4().hex
        self.private_pem = self.jwk.export_to_pem(private_key=True, password=None)

    def public_jwk(self) -> dict[str, Any]:
        return {**json.loads(self.jwk.export_public()), "kid": self.kid, "alg": "RS256"}


class FakePlatform:
    """The platform's side of LTI 1.3: a key set served at `keyset_url`, signed id_tokens."""

    def __init__(self) -> None:
        self.keys = [PlatformKey()]
        self.jwks_requests = 0
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/auth":
                    self.answer("text/html", platform.auth_page(parse_qs(url.query)))
                    return
                platform.jwks_requests += 1
                self.answer(
                    "application/json",
                    json.dumps({"keys": [key.public_jwk() for key in platform.keys]}),
                )

            def answer(self, content_type: str, text: str) -> None:
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        host, port = self.server.server_address[:2]
        # A path of its own: a key set cached for an earlier test's platform is never this one.
        self.keyset_url = f"http://{host}:{port}/jwks/{uuid.uuid4().hex}"
        self.auth_login_url = f"http://{host}:{port}/auth"
        self.launch_claims: dict[str, Any] = {}
        self.access_token_url = "https://moodle.example.edu/mod/lti/token.php"

    def close(self) -> None:
        if not self.thread.is_alive():
            return
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def auth_page(self, query: dict[str, list[str]]) -> str:
        """The platform's OIDC answer in a browser: a form posting the signed id_token back to
        the tool's redirect_uri, submitted at once (as Moodle's and Canvas's pages do)."""
        params = {key: values[0] for key, values in query.items()}
        claims = self.claims(nonce=params["nonce"], **self.launch_claims)
        token = self.sign(claims)
        fields = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name, value in (("id_token", token), ("state", params["state"]))
        )
        action = html.escape(params["redirect_uri"])
        return (
            f'<html><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{action}">{fields}</form></body></html>'
        )

    def rotate(self) -> PlatformKey:
        """Start signing with a new key, published beside the old one (as platforms do)."""
        key = PlatformKey()
        self.keys.append(key)
        return key

    def claims(self, *, nonce: str, sub: str = "user-42", **overrides: Any) -> dict[str, Any]:
        """A resource link launch of a learner in a course, as Moodle sends it."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": sub,
            "iat": now,
            "exp": now + 60,
            "nonce": nonce,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "name": "Ada Lovelace",
            "email": "ada.lovelace@moodle.example.edu",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": DEPLOYMENT_ID,
            CLAIM + "target_link_uri": "http://testserver/accounts/lti/launch/",
            CLAIM + "roles": [LEARNER],
            CLAIM + "context": {"id": "course-7", "label": "PY101", "title": "Python for all"},
            CLAIM + "resource_link": {"id": "link-3", "title": "My progress"},
        }
        claims.update(overrides)
        return {key: value for key, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any], *, key: PlatformKey | None = None) -> str:
        key = key or self.keys[-1]
        return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def start_login(client: Client, *, method: str = "get", **params: str) -> dict[str, str]:
    """The platform's login initiation: what Stride's redirect asks the platform's auth URL."""
    query = {
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "login_hint": "hint-42",
        "target_link_uri": "http://testserver/accounts/lti/launch/",
        "lti_deployment_id": DEPLOYMENT_ID,
        **params,
    }
    response = getattr(client, method)("/accounts/lti/login/", query)
    assert response.status_code == 302, response.content.decode()[:500]
    location = urlsplit(response["Location"])
    return {key: values[0] for key, values in parse_qs(location.query).items()} | {
        "_auth_url": f"{location.scheme}://{location.netloc}{location.path}"
    }


def post_launch(client: Client, *, id_token: str, state: str):
    """The platform's auto-submitted form that brings the learner back with the id_token."""
    return client.post("/accounts/lti/launch/", {"id_token": id_token, "state": state})
