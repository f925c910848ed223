"""The private channel between the service and its kernel process (signed messages over ZeroMQ,
values in an allow-listed JSON codec)."""
