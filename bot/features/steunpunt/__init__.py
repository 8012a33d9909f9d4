"""The steunpunt finder, the steunpunt directory (import/export) and the saved steunpunt."""
