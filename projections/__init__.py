"""Projections: idempotent consumers of the event topics that materialise read models in Postgres."""
