"""Patients: demographics, weights, diagnoses."""
