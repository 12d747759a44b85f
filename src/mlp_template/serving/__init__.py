"""What uses a trained network: test a checkpoint, predict new inputs, export it for serving."""
