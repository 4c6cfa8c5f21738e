"""smsq campaigns package."""
