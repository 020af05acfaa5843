"""Usage and cost for people: the /usage/ page, its chart, and usage and budgets in the admin."""
