"""Periodic check-ins the caregiver controls, their replies and the chart of the trend."""
