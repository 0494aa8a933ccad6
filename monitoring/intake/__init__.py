"""The doors other systems send metrics through: Prometheus remote-write, OTLP, scrapes."""
