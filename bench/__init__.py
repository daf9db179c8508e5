"""Benchmarks of django-smsrest; run ``python bench/bench.py --help``."""
