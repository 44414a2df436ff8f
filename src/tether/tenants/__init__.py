"""Tenants, their users and roles, and who a caller is (the Principal)."""
