"""Credits: the rate table, prices and the append-only ledger."""
