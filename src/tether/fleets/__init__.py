"""EMQX Fleets over the one domain model: things, thing types, thing groups and shadows."""
