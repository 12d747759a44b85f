"""How fast the template trains, against a hand-written PyTorch loop: ``python -m benchmarks.throughput``."""
