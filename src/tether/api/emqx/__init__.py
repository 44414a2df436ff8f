"""The EMQX-compatible management API under /api/v5 (reference emqx-fleets-xyte.md section 1): built-in
database users and authorization rules, and API keys. Errors are EMQX's `{"code", "message"}` bodies."""

from __future__ import annotations

from tether.api.emqx import api_keys, authn_users, authz_rules

routes = [*authn_users.routes, *authz_rules.routes, *api_keys.routes]
