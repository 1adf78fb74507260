"""Vital signs shared by screening, check-in and the infusion chart."""
