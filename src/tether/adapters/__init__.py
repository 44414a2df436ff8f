"""Device protocol families (SmartREST and JSON over MQTT, Xyte, Fleets) and the broker's platform hooks:
each maps MQTT topics to calls on the domain services."""
