"""Shared web plumbing: templates, CSRF, flash messages."""
