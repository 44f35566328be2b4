"""Realtime: committed events numbered by the relay, fanned out by each process's hub to the
``/v1/stream`` websockets, with need-to-know scoping, resume, and live console presence."""
