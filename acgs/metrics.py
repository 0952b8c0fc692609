"""Prometheus metrics shared by the gateway's layers."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("acgs_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram("acgs_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                         buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
PRODUCE_LATENCY = Histogram("acgs_kafka_produce_duration_seconds", "Time from produce to broker acknowledgement",
                            ["topic"], buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5))
COMMANDS_REFUSED = Counter("acgs_commands_refused_total", "Commands refused at the gateway", ["code"])
