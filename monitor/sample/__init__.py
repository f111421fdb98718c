"""Bundled sample data for `monitor demo`."""
