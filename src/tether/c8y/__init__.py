"""The Cumulocity wire format, as mqtt/ is MQTT's: documents in (`documents`, over the field readers of
`fields`) as the typed drafts and changes the domain services take, and domain objects out (`render`).
Used by the REST routers (api/c8y), SmartREST and JSON via MQTT (adapters/)."""
