"""Area insight without identifying anyone: counts for a steunpunt's municipalities in which
every shown cell counts at least 10 caregivers (`tables`: the rule, `area`: the tables)."""
