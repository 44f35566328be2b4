"""Integrations: other systems' view of Sigap and their way back in.

- ``scope``: which alerts an integrator client may see (its data scope), in one place.
- ``ssrf`` and ``webhooks``/``outbound``: endpoints registered by integrators and the signed,
  retried, thin webhooks sent to them from the outbox.
- ``inbound``: partner status (ASAP-like) through the API or as verified inbound webhooks.
- ``channels``: alerts created on a caller's behalf by 112 call-takers or SAPA 129.
- ``export``: an alert as a NENA EIDO-style incident, a case as a SIMFONI-PPA-shaped record.
"""
