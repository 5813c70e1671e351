"""smsbridge: a self-hosted SMS gateway with a two-way email <-> SMS bridge."""

__version__ = "0.1.0"
