"""Outbound and inbound messages: the send API's actions and the outbound pipeline."""
