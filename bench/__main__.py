"""`make bench` runs every benchmark under bench/; today that is the alert ingestion one."""

from bench.alerts_ingest import main

main()
