"""Twilio Programmable Messaging as a carrier: REST submits, status callbacks, inbound webhook."""
