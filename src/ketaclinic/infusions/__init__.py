"""The chairside infusion session: state machine, dose actually given, discharge rule.

The modules here are pure (no database, web or clock); services and pages build on them.
"""
