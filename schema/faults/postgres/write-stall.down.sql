-- End the write-stall transaction: its lock on orders goes with it.
COMMIT;
