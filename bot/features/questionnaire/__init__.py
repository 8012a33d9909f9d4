"""Scored questionnaires (the self-check) run from dialog files, their results and /resultaten."""
