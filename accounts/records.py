"""Plain records that accounts hands to the apps above it: frozen, no model instances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LtiLaunchRecord:
    """One accepted LTI launch, as the launch service hands it to STRIDE_LTI_LAUNCH_HANDLERS.

    `user_id` is the signed-in learner's primary key; `context_*` describe the platform's
    course (empty when the launch named none): a handler in `learning` can enrol the learner
    in the Stride course whose external id matches `context_id`. `roles` are the LTI role URIs
    as the platform sent them; `is_instructor` says whether one of them is Instructor.
    """

    launch_id: int
    user_id: int
    platform_id: int
    issuer: str
    deployment_id: str
    context_id: str
    context_label: str
    context_title: str
    resource_link_id: str
    roles: tuple[str, ...]
    is_instructor: bool
    launched_at: datetime
