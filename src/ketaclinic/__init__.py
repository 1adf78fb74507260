"""ketaclinic: run a ketamine infusion clinic safely.

The software supports clinicians; it does not replace their judgement.
"""

__version__ = "0.1.0"
