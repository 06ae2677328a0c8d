"""The `rft` command line: the composition root (the only part of `app` that starts workers)."""
