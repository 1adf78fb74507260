"""The versioned protocol library stored per clinic."""
