"""Making people with chosen global roles through the users API (shared by the user and role tests)."""

from __future__ import annotations

import httpx
from tests.support import unique

PASSWORD = "person-secret-1"


def make_user(
    admin: httpx.Client, *roles: str, groups: tuple[str, ...] = (), prefix: str = "u"
) -> tuple[str, str]:
    """A new user of t1 holding `roles` itself and member of the groups named: its (login, password)."""
    name = unique(prefix)
    created = admin.post(
        "/user/t1/users", json={"userName": name, "password": PASSWORD, "email": f"{name}@x.io"}
    )
    assert created.status_code == 201, created.text
    for role in roles:
        assigned = admin.post(f"/user/t1/users/{name}/roles", json={"role": {"self": f"user/roles/{role}"}})
        assert assigned.status_code == 201, assigned.text
    for group in groups:
        group_id = admin.get(f"/user/t1/groupByName/{group}").json()["id"]
        joined = admin.post(
            f"/user/t1/groups/{group_id}/users", json={"user": {"self": f"/user/t1/users/{name}"}}
        )
        assert joined.status_code == 201, joined.text
    return f"t1/{name}", PASSWORD
