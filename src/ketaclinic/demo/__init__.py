"""The synthetic demo clinic (``ketaclinic demo``), booked and charted through the clinic's own
use-cases so every record in it passed the same checks a real one would.

``clinic`` seeds the clinic, its staff, chairs and hours and its patients; ``floor`` today's chair
board; ``history`` (played from ``history_data``) ten weeks of past visits; ``inventory`` the
controlled-substance stock. No real person is described anywhere in it.
"""

from __future__ import annotations

from ketaclinic.demo.clinic import CONDITIONS, STAFF, SeedResult, seed

__all__ = ["CONDITIONS", "STAFF", "SeedResult", "seed"]
