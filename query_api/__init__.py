"""The read side: command status, inboxes, schema-registry read API, health and metrics."""
