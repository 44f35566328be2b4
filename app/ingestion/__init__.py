"""Ingestion: signals from the victim's phone become durable rows and outbox events.

In: the device's press, its location updates and its cancel. Out: committed alert rows, location
points and ``alert.*`` outbox events, in one transaction each, with no network calls. Nothing here
decides who responds; the dispatcher reads the outbox for that.
"""
