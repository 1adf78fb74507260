"""Interoperability: HL7 v2 from bedside monitors and hospitals (FHIR to follow). See README "HL7 v2
(in progress)".
"""
