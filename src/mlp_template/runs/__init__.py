"""What keeps a run safe: its config checked before any work, its own folder, atomic checkpoints, a clean stop on
Ctrl-C."""
