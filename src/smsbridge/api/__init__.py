"""The HTTP API: SMS Works-compatible routes under /v1, and the error shape they share."""
