"""Family evenings of care homes: the families side (subscribe, RSVP, reminders) and the staff
side (plan, edit, cancel, counts)."""
