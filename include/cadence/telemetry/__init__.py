"""Game-client telemetry: uploads of nested JSON, the ingestion ledger, flattening to bronze."""
