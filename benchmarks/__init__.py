"""Speed measurements, run by hand: `python -m benchmarks --suite cpu|gpu` prints one table."""
