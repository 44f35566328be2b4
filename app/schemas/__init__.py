"""Request and response schemas: the public contract, shared by the API and the services."""
