"""Neural-network training made visible: an MLP, its training loop in Lightning, its configs in Hydra."""
