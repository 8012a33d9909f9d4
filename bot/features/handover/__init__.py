"""The warm handover: a caregiver asks their steunpunt to get in touch, and staff pick it up."""
