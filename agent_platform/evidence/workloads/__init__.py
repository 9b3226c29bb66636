"""Evidence workload drivers, one per evidence family, free of Dagster (the assets wrap them)."""
