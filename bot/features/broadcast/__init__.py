"""Staff notices: compose, audience, schedule, and the deliverer that sends them to caregivers."""
