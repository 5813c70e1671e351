"""Accounts, their settings and their API keys."""
