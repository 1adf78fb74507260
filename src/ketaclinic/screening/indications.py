"""The screening's indications are the clinic's one vocabulary: see ``ketaclinic.indications``."""

from ketaclinic.indications import (
    BY_ID,
    INDICATIONS,
    Evidence,
    Indication,
    indications_for_code,
    match,
)

__all__ = ["BY_ID", "INDICATIONS", "Evidence", "Indication", "indications_for_code", "match"]
