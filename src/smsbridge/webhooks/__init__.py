"""Webhooks: signed POSTs of delivery reports and inbound SMS to the account's own URLs."""
