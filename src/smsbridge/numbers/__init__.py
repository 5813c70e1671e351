"""Phone numbers, sender IDs and the pool of Reply Numbers."""
