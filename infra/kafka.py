"""Apache Kafka 4.x, single node in KRaft combined mode, run from the official jars on Maven Central."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.exceptions import StackError
from infra.process import require_free_port, spawn, stop_process, wait_until
from schemas.topics import PRODUCER_MAX_BYTES

KAFKA_VERSION = "4.4.0"
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
LOG4J2_XML = Path(__file__).resolve().parent / "kafka" / "log4j2.xml"


def libs_dir(cache_dir: Path) -> Path:
    return cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"


def ensure_jars(cache_dir: Path) -> Path:
    """Fetch the broker classpath once with Maven (idempotent: a complete cache is reused)."""
    libs = libs_dir(cache_dir)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise StackError("Kafka: Maven (`mvn`) is needed once to fetch the Kafka jars; install it (apt-get install maven)")
    if shutil.which("java") is None:
        raise StackError("Kafka: Java 17+ is required (apt-get install openjdk-17-jre-headless)")
    libs.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={libs}"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise StackError(f"Kafka: fetching jars with Maven failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    marker.touch()
    return libs


def gc_log_path(state_dir: Path) -> Path:
    """The broker's garbage-collector log (one line per collection, with its pause)."""
    return state_dir / "logs" / "kafka-gc.log"


@dataclass
class KafkaServer:
    """A local broker+controller whose data lives under ``state_dir/kafka``."""

    state_dir: Path
    cache_dir: Path
    port: int
    controller_port: int
    heap: str = "512m"
    proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "kafka.log"

    def _write_config(self) -> Path:
        data = self.state_dir / "kafka" / "data"
        data.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "3",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "3",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Records up to schemas.topics.MAX_RECORD_BYTES (a 1 MiB command, a dead letter repeating one).
            "message.max.bytes": str(PRODUCER_MAX_BYTES),
            "replica.fetch.max.bytes": str(PRODUCER_MAX_BYTES),
            # Our topics are created explicitly with their own configs; faust creates its own internals.
            "auto.create.topics.enable": "true",
        }
        path = self.state_dir / "kafka" / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def _java(self, libs: Path, main: str, *args: str, gc_log: Path | None = None) -> list[str]:
        # The collector settings Kafka's own start scripts use (kafka-run-class.sh): without them the JVM's
        # defaults aim at 200 ms pauses, and on this machine young collections paused the broker for up to
        # ~40 ms, which every produce acknowledgement waiting at that moment pays.
        gc = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
              "-XX:+ExplicitGCInvokesConcurrent", "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true"]
        if gc_log is not None:
            gc.append(f"-Xlog:gc:file={gc_log}:time,uptime,level,tags:filecount=4,filesize=20M")
        return ["java", f"-Xmx{self.heap}", f"-Xms{self.heap}", *gc, f"-Dkafka.logs.dir={self.state_dir / 'logs'}",
                f"-Dlog4j2.configurationFile={LOG4J2_XML}", "-cp", f"{libs}/*", main, *args]

    def _format(self, libs: Path, config: Path) -> None:
        if (self.state_dir / "kafka" / "data" / "meta.properties").exists():
            return
        made = subprocess.run(self._java(libs, "kafka.tools.StorageTool", "random-uuid"), capture_output=True,
                              text=True)
        if made.returncode != 0 or not made.stdout.strip():
            raise StackError(f"Kafka: could not make a cluster id:\n{made.stdout}{made.stderr}")
        uuid = made.stdout.strip().splitlines()[-1]
        result = subprocess.run(self._java(libs, "kafka.tools.StorageTool", "format", "-t", uuid, "-c", str(config)),
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"Kafka: storage format failed:\n{result.stdout}{result.stderr}")

    def start(self, timeout_s: float = 90.0) -> None:
        if shutil.which("java") is None:
            raise StackError("Kafka: java not found on PATH; install a JDK 17 (make system-deps, or "
                             "apt-get install -y openjdk-17-jre-headless), or set KAFKA_BOOTSTRAP_SERVERS")
        require_free_port(self.port, "Kafka")
        require_free_port(self.controller_port, "Kafka controller")
        libs = ensure_jars(self.cache_dir)
        config = self._write_config()
        self._format(libs, config)
        gc_log = gc_log_path(self.state_dir)
        gc_log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = spawn(self._java(libs, "kafka.Kafka", str(config), gc_log=gc_log), self.log_path)
        wait_until(lambda: kafka_metadata_ok(self.bootstrap), timeout_s, f"Kafka on {self.bootstrap}",
                   self.proc, self.log_path)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout_s=30)
            self.proc = None


def kafka_metadata_ok(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """A real metadata round trip: the broker answered and knows at least one broker (itself)."""
    from confluent_kafka.admin import AdminClient

    # log_level 0: a probe that fails while the broker boots is expected, not worth librdkafka's log lines.
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000,
                         "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    finally:
        del admin
    return len(metadata.brokers) > 0
