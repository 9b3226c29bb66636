"""Evidence workload drivers: one per evidence family, run by the thin Dagster assets."""
