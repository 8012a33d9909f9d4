"""Texts: content loading (dialog files), Babel translations, the dialog extractor, and Dutch
dates and numbers."""
