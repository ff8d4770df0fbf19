"""The HTTP service: the app, its routes, middleware and the index as the service holds it."""
