"""Evidence workload drivers, one per evidence family: library code the Dagster assets wrap."""
