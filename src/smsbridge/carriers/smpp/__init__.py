"""SMPP 3.4: the pure protocol pieces (PDUs, receipts, reassembly) the SMPP carrier builds on."""
