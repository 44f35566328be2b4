"""The HTTP edge: parse, authorize, call one service, shape the response. No business logic."""
