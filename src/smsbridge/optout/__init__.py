"""Opt-out compliance: STOP, START and HELP from customers, and the list every send checks."""
