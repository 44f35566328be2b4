"""Cryptographic building blocks: credentials, password/PIN hashing, tokens, field encryption."""
