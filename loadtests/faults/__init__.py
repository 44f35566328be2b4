"""A Jepsen-style fault harness on one machine: does "a 2xx means committed" survive real faults?

A private PostgreSQL cluster (tests/pgcluster.py), Sigap on it with several worker processes
reaching PostgreSQL through a TCP fault proxy, an open-loop client pressing the button with the
app's retries and recording every operation, supervisor and counselor sockets that resume after
every disconnect, a nemesis (PostgreSQL crashes, SIGKILLed workers, latency, resets, a
blackhole), and a checker reading the database afterwards. ``python -m loadtests.faults --help``.

    proxy.py      the asyncio TCP fault proxy (latency, resets, blackhole)
    history.py    operations, their outcomes, unavailability per fault
    clients.py    the pressing phones and the resuming sockets
    seed.py       devices, staff and posts written straight into the database
    nemesis.py    the schedule of faults and how each one is done
    checker.py    lost, duplicated, routing decisions, stream gaps, SLA clocks
    harness.py    one run from start to report
"""
