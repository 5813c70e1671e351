"""Inbound and outbound email: the bridge between a business's mailbox and SMS."""
