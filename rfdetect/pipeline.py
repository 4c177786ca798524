"""The engine's data flow for one stream: blocks -> bursts -> detections -> records.

Used alike by ``analyze`` (recordings) and ``scan`` (live sources).  Records
are handed to ``emit`` as soon as they exist, so a run cut short keeps what
it found.
"""
from __future__ import annotations

import bisect
import dataclasses
import math
import os
import time
from typing import Callable, Iterable

from .classify import Classifier
from .detect import BurstDetector, DetectorConfig
from .detect.framer import FrameBatch, framed_blocks
from .detect.linerate import line_rate_detector_for
from .history import IQHistory, IQSnippet
from .model import Burst, IQBlock, RecordingInfo
from .records import SCHEMA, burst_record, detection_record, gap_record
from .sources.base import DEFAULT_BLOCK_SAMPLES, Source

Emit = Callable[[dict], None]
HISTORY_S = 0.1        # IQ kept for confirmation kernels (longer than any control-link burst)
BEARING_KEEP_S = 30.0  # per-burst bearings kept until their detection is reported


def merger_samples(stages: Iterable, sample_rate_hz: float, config: DetectorConfig) -> tuple[int, int]:
    """(delay, longest hold) in samples of the merger that meets the energy detector's and
    the evidence stages' bursts.  Every detector closes a burst soon after it ends: held the
    slowest stage's latency and 10 ms, a burst meets its twin; a stage's burst waits at most
    ``config.stage_max_hold_s`` for an energy burst still open."""
    latency = max((stage.latency_samples for stage in stages), default=0)
    return latency + int(0.01 * sample_rate_hz), int(config.stage_max_hold_s * sample_rate_hz)


def evidence_stages(config: DetectorConfig, sample_rate_hz: float, center_freq_hz: float) -> dict:
    """The evidence stages a config asks for, by the name their bursts' merger knows them by:
    the chirp detector (``dechirp``), the Zadoff-Chu search (``zadoff_chu``; None where no
    DroneID channel is in the window)."""
    stages = {}
    if config.dechirp:
        from .detect.chirp import chirp_detector_for
        # (A chirp burst carries its LoRa evidence: classify.evidence.detector_evidence.)
        stages["dechirp"] = chirp_detector_for(config, sample_rate_hz, center_freq_hz)
    if config.zadoff_chu:
        from .detect.zadoffchu import zadoff_chu_detector_for
        stages["zadoff_chu"] = zadoff_chu_detector_for(config, sample_rate_hz, center_freq_hz)
    return {name: stage for name, stage in stages.items() if stage is not None}


class Pipeline:
    def __init__(self, info: RecordingInfo, emit: Emit, *, config: DetectorConfig | None = None,
                 all_bursts: bool = False, classifier: Classifier | None = None,
                 array_path: str | None = None, heading_log_path: str | None = None,
                 low_latency: bool = False):
        """``low_latency`` (live sources): after each block, what the classifier holds
        (a packet whose pieces may still come) is matched as soon as the detector's
        horizon has passed it, not when the next burst arrives, which in a quiet band can
        be much later.  Off for recordings: there the order of the records must not
        depend on the block size."""
        self.info = info
        self.low_latency = low_latency
        self.emit = emit
        self.all_bursts = all_bursts
        self.config = config or DetectorConfig()
        self.detector = BurstDetector(self.config, info.sample_rate_hz, info.center_freq_hz)
        self.classifier = classifier or Classifier()
        # (first sample, centre frequency) of each tuning: a recording's retunes, and those
        # a live stream's blocks bring.  A burst is classified with the band its tuning saw.
        self._tunings = sorted({0: float(info.center_freq_hz), **{int(i): float(f) for i, f in info.retunes}}.items())
        # Enough history for a burst to close after it ends, and for the longest
        # burst a confirmation kernel looks at.
        self.history = IQHistory(int(info.sample_rate_hz * HISTORY_S) + DEFAULT_BLOCK_SAMPLES)
        self.samples = 0
        self.samples_lost = 0
        self._stretch_t0_s = 0.0
        self.gaps = 0
        self.bursts = 0
        self.faint_spans = 0      # (detect/steady.py: not written, not counted as bursts)
        self._tracks: dict[int, tuple[str, bool | None]] = {}
        self.detection_records = 0
        self.bearing_records = 0
        self._t0 = time.perf_counter()
        self._finished = False
        self.bearings = BearingStage.for_recording(info, array_path, heading_log_path)
        self.stages = evidence_stages(self.config, info.sample_rate_hz, info.center_freq_hz)
        self.chirp = self.stages.get("dechirp")
        self.zadoff_chu = self.stages.get("zadoff_chu")
        self.merger = None
        if self.stages:
            from .detect.merge import SHADOW_S, BurstMerger
            delay, max_hold = merger_samples(self.stages.values(), info.sample_rate_hz, self.config)
            self.merger = BurstMerger(delay, max_hold_samples=max_hold,
                                      shadow_samples=int(SHADOW_S * info.sample_rate_hz))
        self.line_rate = line_rate_detector_for(self.config, info.sample_rate_hz, info.center_freq_hz)

    def feed(self, block: IQBlock) -> None:
        self.feed_framed(block, self.detector.framer.defer(block))

    def feed_framed(self, block: IQBlock, batch: FrameBatch) -> None:
        """A block whose frames ``detector.framer`` already made (maybe on another thread)."""
        retuned = block.center_freq_hz != self._tunings[-1][1]
        if block.samples_lost_before:
            self.gaps += 1
            self.emit(gap_record(block.sample_index0, block.samples_lost_before, self.info,
                                 lost_before=self.samples_lost))
            self.samples_lost += block.samples_lost_before
        if block.samples_lost_before or retuned:
            # A gap or a retune: the detector looks for always-on emitters anew.
            self._stretch_t0_s = (block.sample_index0 + self.samples_lost) / self.info.sample_rate_hz
        self.samples += block.num_samples
        self.history.append(block)
        if retuned and block.sample_index0 > self._tunings[-1][0]:
            self._tunings.append((block.sample_index0, float(block.center_freq_hz)))
        energy = self.detector.consume(batch)
        if self.line_rate is not None:
            energy += self.line_rate.feed(block)
        if self.merger is None:
            self._handle(energy)
            if self.low_latency:
                self._detections(self.classifier.advance(self.detector.horizon_s()))
        else:
            self._merge(energy, {name: stage.feed(block) for name, stage in self.stages.items()})
            opened = self.detector.open_starts()
            self._handle_held(self.merger.pop(block.sample_index0 + block.num_samples,
                                              min(opened) if opened else None))

    def _snippet(self, burst: Burst):
        margin = int(self.detector.nfft)
        keep = int(self.info.sample_rate_hz * HISTORY_S)
        start, stop = burst.sample_start - margin, burst.sample_end + margin
        iq = None
        if burst.features.get("steady"):
            # An always-on emitter was there before its span's last frames too: all the
            # samples held (classify/prefix.py sums them), unless a retune lies among them.
            iq = self.history.snippet(min(start, stop - keep), stop, max_samples=keep)
        if iq is None:
            iq = self.history.snippet(start, stop, max_samples=keep)
        if isinstance(iq, IQSnippet) and iq.floor is None:
            # What the floor beside a burst stood at tells a slice of a wider frame
            # (kernels/beside.py).  (A chunked run's client is handed the worker's.)
            iq = dataclasses.replace(iq, floor=self.detector.floor_snapshot())
        return iq

    def _handle(self, bursts: Iterable[Burst]) -> None:
        for burst in bursts:
            self._classify(burst, self._snippet(burst))

    def _classify(self, burst: Burst, iq) -> None:
        if burst.features.get("faint"):
            self.faint_spans += 1
        else:
            self.bursts += 1
        k = bisect.bisect_right(self._tunings, (burst.sample_start, math.inf)) - 1
        self.classifier.set_window(self._tunings[max(k, 0)][1], self.info.sample_rate_hz,
                                   self.detector.hop / self.info.sample_rate_hz, since_s=self._stretch_t0_s)
        if self.all_bursts and not burst.features.get("faint"):
            # (A faint span shows through the link it confirms, if any: detect/steady.py.)
            self.emit(burst_record(burst, self.info))
        if self.bearings:
            self.bearings.add(burst, iq)
        self._detections(self.classifier.add(burst, iq))

    # -- evidence stages (``DetectorConfig.dechirp``, ``zadoff_chu``) --------------------
    def _merge(self, energy: Iterable[Burst], staged: dict[str, list[Burst]]) -> None:
        # The samples are taken now: the bursts wait longer than the history holds them.
        for burst in energy:
            self.merger.push(burst, self._snippet(burst))
        for name, bursts in staged.items():
            for burst in bursts:
                self.merger.push(burst, self._snippet(burst), stage=name)

    def _handle_held(self, held) -> None:
        for burst, iq in held:
            self._classify(burst, iq)

    def _detections(self, detections) -> None:
        for det in detections:
            # A live run may report a track when first confirmed and again when it
            # ends (same track id, the later record supersedes): count emitters once.
            self._tracks[det.track_id] = (det.link, det.drone)
            self.detection_records += 1
            self.emit(detection_record(det, self.info))
            if self.bearings:
                record = self.bearings.for_detection(det)
                if record:
                    self.bearing_records += 1
                    self.emit(record)

    def flush(self) -> None:
        """Emit everything found so far (end of stream, or before reporting a failure)."""
        if not self._finished:
            self._finished = True
            if self.merger is None:
                self._handle(self.detector.finish())
            else:
                self._merge(self.detector.finish(), {name: stage.finish() for name, stage in self.stages.items()})
                self._handle_held(self.merger.flush())
            self._detections(self.classifier.finish())

    def summary(self, error: str | None = None) -> dict:
        links: dict[str, int] = {}
        for link, _ in self._tracks.values():
            links[link] = links.get(link, 0) + 1
        wall_s = time.perf_counter() - self._t0
        signal_s = self.samples / self.info.sample_rate_hz
        record = {
            "type": "summary", "schema": SCHEMA, "source": self.info.path,
            "samples": self.samples, "signal_s": round(signal_s, 9), "wall_s": round(wall_s, 4),
            "throughput_msps": round(self.samples / wall_s / 1e6, 2) if wall_s > 0 else None,
            "realtime_factor": round(signal_s / wall_s, 1) if wall_s > 0 else None,
            "bursts": self.bursts, "detections": len(self._tracks),
            "drone_detections": sum(drone is True for _, drone in self._tracks.values()),
            "detection_records": self.detection_records, "links": dict(sorted(links.items())),
            "gaps": self.gaps, "samples_lost": self.samples_lost, "bearings": self.bearing_records,
            "detector": {"fft_size": self.detector.nfft, "hop": self.detector.hop,
                         "overflows": self.detector.overflows},
        }
        if self.faint_spans:
            record["detector"]["faint_spans"] = self.faint_spans
        if self.line_rate is not None:
            record["detector"]["line_rate"] = {
                "line_rates_hz": list(self.line_rate.line_rates_hz), "checks": self.line_rate.checks,
                "found": self.line_rate.found}
        if self.chirp is not None:
            record["detector"]["dechirp"] = {
                "hypotheses": [[h.bw_hz, h.sf] for h in self.chirp.hypotheses],
                "candidates": self.chirp.candidates, "confirmed": self.chirp.confirmed,
                "packets": self.chirp.packets,
                "duplicates": self.merger.duplicates}
        if self.zadoff_chu is not None:
            zc = self.zadoff_chu
            record["detector"]["zadoff_chu"] = {
                "channels_hz": list(zc.channels_hz), "segments": zc.segments, "candidates": zc.candidates,
                "found": zc.found}
        if error:
            record["error"] = error
        return record

    def finish(self, error: str | None = None) -> dict:
        self.flush()
        record = self.summary(error)
        self.emit(record)
        return record


class BearingStage:
    """Bearings per detection, from the bursts that make it up.

    With an antenna array (multi-channel recording), each burst gets a
    burst-gated bearing as it closes, while its samples are held, and a
    detection's bearing combines them.  With one channel and a heading log
    (an operator sweeping a directional antenna), a detection's bearing comes
    from its bursts' power against the antenna's heading at their times.
    """

    def __init__(self, info: RecordingInfo, array=None, heading_log=None):
        self.info = info
        self.array = array
        self.heading_log = heading_log          # (t_s array, heading_deg array)
        self._per_burst: list[tuple[Burst, dict | None]] = []

    @classmethod
    def for_recording(cls, info: RecordingInfo, array_path: str | None,
                      heading_log_path: str | None = None) -> "BearingStage | None":
        if heading_log_path is not None:
            from .bearing.amplitude import load_heading_log
            return cls(info, heading_log=load_heading_log(heading_log_path, t0_utc=info.datetime_utc))
        if array_path is None and (info.num_channels < 2 or not info.array):
            return None     # one channel, or no geometry: detections without bearings
        from .bearing import array_for_recording
        return cls(info, array=array_for_recording(info, array_path))

    def add(self, burst: Burst, iq) -> None:
        record = None
        if self.array is not None:
            if iq is None:
                return
            from .bearing import bearing_for_burst
            record = bearing_for_burst(iq.samples, iq.sample_rate_hz, iq.center_freq_hz, burst, self.array,
                                       sample_index0=iq.sample_index0)
        self._per_burst.append((burst, record))
        # Tracks report within seconds of their last burst: older bursts are no longer wanted.
        horizon_s = burst.t_start_s - BEARING_KEEP_S
        if self._per_burst[0][0].t_end_s < horizon_s:
            self._per_burst = [(b, r) for b, r in self._per_burst if b.t_end_s >= horizon_s]

    def _bursts_of(self, det) -> list[tuple[Burst, dict | None]]:
        channels = det.evidence.get("channels_hz") or [det.center_freq_hz]
        half_bw = max(det.bandwidth_hz, 1.0) / 2
        return [(b, r) for b, r in self._per_burst
                if det.sample_start <= b.sample_start < det.sample_end
                and any(abs(b.center_freq_hz - c) <= half_bw for c in channels)]

    def for_detection(self, det) -> dict | None:
        mine = self._bursts_of(det)
        if not mine:
            return None
        record = self._from_array(mine) if self.array is not None else self._from_heading_log(mine)
        record.update({"link": det.link, "track_id": det.track_id, "t_start_s": det.t_start_s,
                       "t_end_s": det.t_end_s})
        utc = self.info.time_utc(det.t_start_s)
        if utc:
            record["time_utc"] = utc
        return record

    def _from_array(self, mine) -> dict:
        """The bursts' usable bearings combined (inverse variance, outliers rejected)."""
        from .bearing.gated import combine_bearings
        usable = [r for _, r in mine if r.get("usable")]
        combined = combine_bearings([r["bearing_deg"] for r in usable],
                                    [r["bearing_sigma_deg"] for r in usable],
                                    common_sigma_deg=getattr(self.array, "heading_sigma_deg", 0.0) or 0.0)
        record = dict(usable[0] if usable else mine[0][1])
        record.pop("others", None)
        record.update({
            "bearing_deg": None if combined["bearing_deg"] is None else round(combined["bearing_deg"], 3),
            "bearing_sigma_deg": None if combined["bearing_sigma_deg"] is None
            else round(combined["bearing_sigma_deg"], 3),
            "usable": combined["bearing_deg"] is not None,
            "bursts_used": combined["bursts_used"], "bursts_rejected": combined["bursts_rejected"],
        })
        if not record["usable"]:
            record["reason"] = combined.get("reason") or record.get("reason") or "no usable burst"
        return record

    def _from_heading_log(self, mine) -> dict:
        """Amplitude comparison: each burst's peak power against the heading at its middle."""
        from .bearing.amplitude import amplitude_bearing
        from .bearing.records import bearing_record, sensor_dict
        log_t, log_heading = self.heading_log
        t = [0.5 * (b.t_start_s + b.t_end_s) for b, _ in mine]
        result = amplitude_bearing(log_t, log_heading, t, [b.peak_power_db for b, _ in mine])
        s = self.info.sensor
        record = bearing_record(result, sensor=sensor_dict(s.lat, s.lon, s.alt_m, s.heading_deg))
        record["bursts_used"] = result.points
        return record


def analyze_source(source: Source, emit: Emit, *, config: DetectorConfig | None = None,
                   all_bursts: bool = False, block_samples: int = DEFAULT_BLOCK_SAMPLES,
                   progress: Callable[[int], None] | None = None, threads: int | None = None,
                   array_path: str | None = None, heading_log_path: str | None = None) -> dict:
    """Run a whole source; on a failure mid-stream, flush what was found, emit the
    summary with the error, and re-raise.  ``threads``: 1 or 2 (default: 2 when
    this process may use two cores)."""
    pipeline = Pipeline(source.info, emit, config=config, all_bursts=all_bursts, array_path=array_path,
                        heading_log_path=heading_log_path)
    if threads is None:
        threads = min(2, len(os.sched_getaffinity(0)))
    try:
        # Two cores: reading, windows and FFTs on a thread of their own, about half the
        # work; the frame kernel and the rest here.
        for block, batch in framed_blocks(source.blocks(block_samples), pipeline.detector.framer,
                                          workers=1 if threads > 1 else 0):
            pipeline.feed_framed(block, batch)
            if progress:
                progress(block.num_samples)
    except BaseException as exc:
        pipeline.finish(error=str(exc) or type(exc).__name__)
        raise
    return pipeline.finish()
