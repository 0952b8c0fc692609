"""Composition root of the audit log worker (``acgs worker audit``): settings in, a running AuditLogWorker."""

from __future__ import annotations

import logging
import signal

from acgs.settings import Settings
from schemas.codec import AvroCodec
from streams.audit.checkpoint import verifier_key
from streams.audit.keys import signing_key
from streams.audit.processor import AuditLogConfig, AuditLogWorker
from streams.kafka_publisher import KafkaPublisher

log = logging.getLogger("acgs.audit")


def build_worker(settings: Settings) -> AuditLogWorker:
    secret = settings.audit_signing_key.get_secret_value() if settings.audit_signing_key else None
    key = signing_key(secret, settings.state_dir)
    # The public half only: this is what auditors pass to `acgs audit verify --public-key`.
    log.info("checkpoints are signed by verifier key %s", verifier_key(settings.audit_origin, key.public_key()))
    config = AuditLogConfig(bootstrap=settings.kafka_bootstrap, dsn=settings.postgres_dsn,
                            topics=settings.audit_topics, origin=settings.audit_origin,
                            checkpoint_interval_s=settings.audit_checkpoint_interval_s,
                            batch_max=settings.audit_batch_max)
    codec = AvroCodec()
    return AuditLogWorker(config, key, KafkaPublisher(settings.kafka_bootstrap, codec, "acgs-audit-log"), codec)


def run(settings: Settings) -> None:
    worker = build_worker(settings)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    worker.run()
