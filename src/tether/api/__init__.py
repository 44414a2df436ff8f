"""The ASGI application: thin routers over the services, one sub-package per API family."""
