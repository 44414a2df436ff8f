"""Presence: the history of every MQTT connection, the connection and availability of devices
(Cumulocity's c8y_Connection and c8y_Availability) and the alarms of devices that went silent or offline
(docs/architecture.md, Presence)."""
