"""Identities: app installs (devices), staff accounts, integrator clients, and their tokens."""
