"""Cadence: a multi-cadence analytics pipeline for a mobile game."""
