-- Release the write-stall's table lock.
UNLOCK TABLES;
