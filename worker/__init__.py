"""smsq worker package."""
