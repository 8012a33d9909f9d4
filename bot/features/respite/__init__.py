"""Respijtzorg: which forms of respite fit, how to arrange and fund them, and a follow-up."""
