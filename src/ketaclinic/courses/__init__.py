"""Courses: the stabilisation series and the maintenance phase that group a patient's sessions."""
