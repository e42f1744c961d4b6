-- End the reporting transaction of long-report.
COMMIT;
