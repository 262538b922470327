"""Synthetic mobile-measurement-partner (MMP) events: generator, lake writer and command line."""
