"""Inspraak: staff of a steunpunt (or an operator, for a municipality) put one question to the
caregivers of their area as a notice with answer buttons; answers are counted, never linked to
who gave them, and shown only as counts of at least 10."""
