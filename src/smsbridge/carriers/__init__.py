"""Carriers: the port every SMS network adapter implements, and the simulated carrier."""
