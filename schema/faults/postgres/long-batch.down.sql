-- Undo the batch of long-batch and end its transaction.
ROLLBACK;
