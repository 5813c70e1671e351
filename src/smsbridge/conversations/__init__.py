"""Email2SMS conversations: inbound SMS forwarded by email, email replies sent back as SMS."""
