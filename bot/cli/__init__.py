"""Operator commands beside run/serve/chat: staff, locations and notices."""
