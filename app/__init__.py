"""Sigap: panic-button emergency response backend.

A victim's press is committed once and never lost; the dispatcher routes it to the nearest open
complaint post or transit partner; responders follow it live; response times are measured.
"""
