"""Intra-infusion monitoring: alert rules, side-effect assessments, adjunct medication limits."""
