"""Writes of `accounts`, the app's public interface for other apps.

`people`: users (sync, provisional ones), API keys, login sessions. `lti`: LTI 1.3 launches
and the tool's key pairs. `sign_in_links`: one-time sign-in links. Import from here; the
modules are the layout, not the API.
"""

from accounts.services.lti import (
    lti_external_id,
    lti_launch_accept,
    lti_tool_key_create,
    lti_tool_key_ensure,
    lti_tool_key_retire,
)
from accounts.services.people import (
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    secret_hash,
    sessions_clear_expired,
    throttle_counters_delete_stale,
    users_ensure_provisional,
    users_upsert,
)
from accounts.services.sign_in_links import (
    safe_next_path,
    sign_in_link_create,
    sign_in_link_redeem,
    sign_in_link_url,
    sign_in_links_delete_spent,
)

__all__ = [
    "api_key_authenticate",
    "api_key_create",
    "api_key_revoke",
    "lti_external_id",
    "lti_launch_accept",
    "lti_tool_key_create",
    "lti_tool_key_ensure",
    "lti_tool_key_retire",
    "safe_next_path",
    "secret_hash",
    "sessions_clear_expired",
    "sign_in_link_create",
    "sign_in_link_redeem",
    "sign_in_link_url",
    "sign_in_links_delete_spent",
    "throttle_counters_delete_stale",
    "users_ensure_provisional",
    "users_upsert",
]
