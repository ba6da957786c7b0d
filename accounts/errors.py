"""The one refusal of a sign-in (an LTI launch, a one-time link) that pages show and APIs map."""

from __future__ import annotations


class SignInRefused(Exception):
    """A sign-in that must not happen.

    `reason` is written for the person trying to sign in; `detail`, optional, is for whoever
    can fix it (the platform's or Stride's administrator): names, ids, the library's words.
    `status` is the HTTP status of the page that says so (4xx; 502 when a platform failed us).
    """

    def __init__(self, reason: str, *, detail: str = "", status: int = 400) -> None:
        self.reason = reason
        self.detail = detail
        self.status = status
        super().__init__(f"{reason} {detail}".strip())
