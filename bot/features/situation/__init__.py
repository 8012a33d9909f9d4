"""Situation guides (`/situatie`): what often happens now, who can help, rights, work and care."""
