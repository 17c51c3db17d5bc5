"""`make bench`: measurements side by side with their baselines, in one run (never timed tests)."""
