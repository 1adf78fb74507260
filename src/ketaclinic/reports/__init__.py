"""Reports for people outside the clinic: the patient progress report as a PDF."""
