"""External identities: (type, value) pairs such as c8y_Serial/raspi-1 that name a managed object."""
