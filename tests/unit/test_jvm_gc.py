"""bench.jvm_gc reads pauses out of a JVM unified GC log, by time window."""

from datetime import datetime

from bench import jvm_gc

LOG = """\
[2026-12-02T06:12:00.100+0000][1.001s][info][gc] Using G1
[2026-12-02T06:12:10.805+0000][10.805s][info][gc] GC(8) Pause Young (Normal) (G1 Evacuation Pause) 220M->166M(512M) 41.308ms
[2026-12-02T06:12:16.609+0000][16.609s][info][gc] GC(9) Pause Young (Concurrent Start) (G1 Evacuation Pause) 304M->166M(512M) 18.957ms
[2026-12-02T06:12:17.000+0000][17.000s][info][gc] GC(10) Concurrent Mark Cycle 12.001ms
[2026-12-02T06:12:30.000+0000][30.000s][info][gc] GC(11) Pause Remark 200M->190M(512M) 2.500ms
"""


def _at(clock: str) -> float:
    return datetime.strptime(f"2026-12-02T{clock}+0000", "%Y-%m-%dT%H:%M:%S%z").timestamp()


def test_pauses_in_the_window_are_found_and_concurrent_phases_are_not_pauses(tmp_path):
    log = tmp_path / "kafka-gc.log"
    log.write_text(LOG)
    assert jvm_gc.pauses(log, _at("06:12:05"), _at("06:12:20")) == [
        ("Pause Young", 41.308), ("Pause Young", 18.957)]
    assert jvm_gc.summary(log, _at("06:12:25"), _at("06:12:40")) == {"pauses": 1, "max_ms": 2.5, "total_ms": 2.5}


def test_rotated_files_are_read_and_an_empty_window_has_no_pauses(tmp_path):
    (tmp_path / "kafka-gc.log.0").write_text(LOG)
    (tmp_path / "kafka-gc.log").write_text("")
    log = tmp_path / "kafka-gc.log"
    assert len(jvm_gc.pauses(log, _at("06:00:00"), _at("07:00:00"))) == 3
    assert jvm_gc.summary(log, _at("05:00:00"), _at("05:10:00")) == {"pauses": 0, "max_ms": 0.0, "total_ms": 0.0}
