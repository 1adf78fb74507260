"""Accounts: clinics, users, roles, logins."""
