"""Staff roles: invitations, membership of a steunpunt or location, the staff menu."""
