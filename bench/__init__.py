"""Benchmarks that compare this project with its anchors, side by side, as ratios."""
