"""The clinic dashboard: rates and counts across patients, filterable by date; CSV export."""
