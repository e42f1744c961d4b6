-- End the write-stall transaction: writes go on.
COMMIT;
