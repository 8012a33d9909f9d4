"""The app core: one update from claim to commit (dispatch), what features register, and the
runtime that builds a running bot from settings."""
