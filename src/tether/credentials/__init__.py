"""Credentials beyond the tenants' users: API keys for HTTPS clients, MQTT users and authorization rules of
the EMQX built-in database shape, and the CA certificates a tenant trusts for device certificates."""
