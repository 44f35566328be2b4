"""What an SLA report may tell its reader (pure): how finely its window is cut, the smallest group
it may show, and whether it counts duress cancels.

A report is an aggregate, but a narrow enough window or group is one alert: a window of two
milliseconds around a press told its post and its duress flag. So:

- The window snaps outward to whole days in the region's time zone; a UPTD PPA supervisor (every
  supervisor belongs to the central desk) to whole hours. The answer states the snapped window.
- Readers without province-wide sight (integrators) get no group of fewer than
  ``SIGAP_SLA__REPORT_MIN_CELL`` alerts (5): it reads ``"suppressed": true`` without figures,
  and further groups are suppressed until the suppressed ones add up to at least that many, so
  no total (another grouping of the same window adds up to the same alerts) gives one away by
  subtraction; grouped by kecamatan, the same holds inside each kota.
- Duress cancels are counted only for UPTD PPA supervisors; everyone else gets no such figure
  (the field is omitted) and the alert counted as the genuine cancel it looked like
  (``app.sla.reports.told_clock``), as need-to-know tells pseudonymous audiences
  ``cancelled_by_victim``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.access import Principal, StaffPrincipal
from app.policy.roles import PROVINCE_WIDE_ROLES

Granularity = Literal["hour", "day"]


@dataclass(frozen=True)
class ReportAudience:
    granularity: Granularity
    """The unit a window snaps to, outward, in the region's time zone."""
    min_cell: int | None
    """The smallest group shown with figures; None: every group (province-wide sight)."""
    shows_duress: bool


def report_audience(principal: Principal, *, min_cell: int) -> ReportAudience:
    """The route has already checked the caller may read reports at all."""
    if isinstance(principal, StaffPrincipal) and principal.role in PROVINCE_WIDE_ROLES:
        supervisor = principal.role == "supervisor"
        return ReportAudience(
            granularity="hour" if supervisor else "day", min_cell=None, shows_duress=supervisor
        )
    return ReportAudience(granularity="day", min_cell=min_cell, shows_duress=False)


def suppressed_keys(
    counts: dict[str, int], *, min_cell: int, parents: dict[str, str] | None = None
) -> set[str]:
    """The groups to suppress: each smaller than ``min_cell``, then the smallest others until
    the suppressed ones add up to ``min_cell`` — over the whole answer, and within each parent
    (a kecamatan's kota) when ``parents`` is given."""
    hidden = {key for key, n in counts.items() if n < min_cell}
    families: list[set[str]] = [set(counts)]
    if parents is not None:
        by_parent: dict[str, set[str]] = {}
        for key in counts:
            by_parent.setdefault(parents.get(key, ""), set()).add(key)
        families += by_parent.values()
    changed = True
    while changed:  # a suppression for one family may be what another needed
        changed = False
        for family in families:
            shown = sorted((counts[k], k) for k in family - hidden)
            while shown and 0 < sum(counts[k] for k in family & hidden) < min_cell:
                hidden.add(shown.pop(0)[1])
                changed = True
    return hidden
