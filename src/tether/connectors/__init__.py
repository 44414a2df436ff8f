"""The sinks of the rule engine: clients of real servers (webhook, PostgreSQL, MySQL/MariaDB, Redis, another
MQTT broker) behind the connectors and actions of tether.rules.connector_service, each action with its
bounded buffer, retries and metrics (docs/architecture.md, "rules/")."""
