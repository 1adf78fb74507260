"""Eligibility screening: indications with their evidence, contraindications, the decision."""
