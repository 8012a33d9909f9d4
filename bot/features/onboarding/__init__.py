"""Start, language, consent, menu, help: what every caregiver meets first."""
