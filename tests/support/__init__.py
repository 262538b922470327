"""Test and benchmark machinery shared by tests/ and bench/ (never shipped in the image): the real-stack
harness, DAG-run helpers, readers of the lake and warehouse, and the independent pandas oracles."""
