"""The Cumulocity-compatible REST API."""
