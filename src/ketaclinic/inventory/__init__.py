"""Controlled substances: registration, products, lots, locations and the append-only ledger."""
