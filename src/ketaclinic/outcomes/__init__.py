"""Outcomes: questionnaire measurements over time."""
