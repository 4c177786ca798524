"""Options and output shared by several commands."""
from __future__ import annotations

import argparse
import json
import math
import sys

from ..detect import DetectorConfig
from ..errors import ParameterError
from ..units import parse_positive, parse_si


def add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", default="auto", choices=["auto", "hdf5", "sigmf", "cu8", "cs8", "cs16", "cf32"],
                   help="input format (default: from the file name)")
    p.add_argument("--sample-rate", metavar="HZ", help="sample rate, e.g. 2.4M (raw files)")
    p.add_argument("--center-freq", metavar="HZ", help="centre frequency, e.g. 868.3M (raw files)")


def add_detector_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("detector")
    g.add_argument("--fft-size", type=int, metavar="N", help="FFT size (default: chosen from the sample rate)")
    g.add_argument("--threshold-db", type=float, metavar="DB", help="CFAR threshold above the floor (default 5)")
    g.add_argument("--seed-threshold-db", type=float, metavar="DB",
                   help="a burst needs one cell this far above the floor (default 12)")
    g.add_argument("--fft-backend", choices=["fftw", "rocket"], help="FFT implementation (default fftw)")
    g.add_argument("--integrate", action="store_true",
                   help="add the integrated test (power averaged over 9 bins and 9 frames) that finds "
                        "bursts near 0 dB in-band SNR; decides each frame 4 frames later")
    g.add_argument("--dechirp", action="store_true",
                   help="add the chirp detector: LoRa packets found by dechirping the IQ for each bandwidth "
                        "and spreading factor of the band's LoRa drone links, down to about -10 dB in-band "
                        "SNR where energy detection fails (costs CPU: about one FFT per half symbol per "
                        "hypothesis)")
    g.add_argument("--zadoff-chu", action="store_true",
                   help="add the Zadoff-Chu search: DJI DroneID bursts found by correlating their "
                        "Zadoff-Chu symbols over the whole stream at each DroneID channel in the window, "
                        "down to about -12 dB in-band SNR (needs 10.24 MS/s or more; costs about one real "
                        "time per channel at 30.72 MS/s)")
    g.add_argument("--no-steady", action="store_true",
                   help="do not look for always-on emitters (analog video, OFDM video downlinks) in the "
                        "noise floor, which absorbs them; by default it is checked every 0.2 s")
    g.add_argument("--no-line-rate", action="store_true",
                   help="do not search for analog video's line rate below the noise; by default, where a "
                        "video band is in the window, the last 20 ms are searched every 0.25 s")
    g.add_argument("--dechirp-links", choices=["drone", "all"],
                   help="LoRa signatures the chirp detector searches for: the drone links' (default) or "
                        "all, LoRaWAN too (many more hypotheses)")


def detector_config(args: argparse.Namespace) -> DetectorConfig:
    changes = {}
    for name in ("fft_size", "threshold_db", "seed_threshold_db", "fft_backend"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "integrate", False):
        changes["integrate_frames"] = 9
    if getattr(args, "no_steady", False):
        changes["steady_check_s"] = 0.0
    if getattr(args, "no_line_rate", False):
        changes["line_rate_check_s"] = 0.0
    if getattr(args, "dechirp", False):
        changes["dechirp"] = True
    if getattr(args, "dechirp_links", None):
        changes["dechirp_links"] = args.dechirp_links
    if getattr(args, "zadoff_chu", False):
        changes["zadoff_chu"] = True
    cfg = DetectorConfig(**changes)
    if cfg.threshold_db <= 0:
        raise ParameterError("must be > 0", param="--threshold-db", value=cfg.threshold_db)
    return cfg


def rate_and_freq(args: argparse.Namespace) -> tuple[float | None, float | None]:
    rate = parse_positive(args.sample_rate, "--sample-rate") if args.sample_rate is not None else None
    freq = parse_si(args.center_freq, "--center-freq") if args.center_freq is not None else None
    return rate, freq


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


_STRICT = json.JSONEncoder(separators=(", ", ": "), allow_nan=False, default=_json_default)


def to_json_line(record: dict) -> str:
    """One record as one line of strict JSON (non-finite numbers become null)."""
    try:
        # Records rarely hold a non-finite number: encode first, clean only if one is there.
        return _STRICT.encode(record) + "\n"
    except ValueError:
        return json.dumps(_finite(record), default=_json_default, separators=(", ", ": ")) + "\n"


class LineWriter:
    """Writes records as JSON Lines, flushed one by one, so a cut run keeps them."""

    def __init__(self, path: str | None):
        self.path = path
        if path in (None, "-"):
            self._fh = sys.stdout
        else:
            try:
                self._fh = open(path, "w", encoding="utf-8")
            except OSError as exc:
                raise ParameterError(f"cannot write: {exc.strerror}", param="--out", value=path) from None
        self.counts: dict[str, int] = {}

    def __call__(self, record: dict) -> None:
        self.write_line(to_json_line(record), record["type"])

    def write_line(self, line: str, record_type: str) -> None:
        """A record already encoded by ``to_json_line``."""
        self._fh.write(line)
        self._fh.flush()
        self.counts[record_type] = self.counts.get(record_type, 0) + 1

    def close(self) -> None:
        if self._fh is not sys.stdout:
            self._fh.close()


class Handoff:
    """The ``--handoff`` sinks of a command: every record goes to them and to the
    local writer; the summary carries each sink's counters."""

    def __init__(self, group):
        self.group = group

    def wrap(self, local: LineWriter):
        from ..sinks.base import stamp

        def emit(record: dict) -> None:
            if record["type"] == "summary":
                record["handoff"] = self.group.stats()
            # Encoded once, with its id, for the sinks and the local output alike.
            line = to_json_line(stamp(record))
            self.group.send_line(line)
            local.write_line(line, record["type"])
        return emit

    def close(self, timeout_s: float = 10.0) -> dict:
        counters = self.group.close(timeout_s=timeout_s)
        for url, c in counters.items():
            print(f"hand-off {url}: {c.get('sent', 0)} sent, {c.get('spooled', 0)} spooled, "
                  f"{c.get('dropped', 0)} dropped", file=sys.stderr)
        return counters


def add_handoff_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("hand-off")
    g.add_argument("--handoff", metavar="URL", action="append", default=[],
                   help="also send records here (repeatable): file path, tcp:// udp:// mqtt:// "
                   "cot+tcp:// cot+udp:// sapient:// (see docs/records.md)")
    g.add_argument("--spool-dir", metavar="DIR",
                   help="keep records for a receiver that is down here, sent again by the next run")
    g.add_argument("--sensor-id", metavar="NAME", help="this sensor's name in MQTT topics, CoT uids and "
                   "SAPIENT node ids (default rfdetect-HOSTNAME)")


def open_handoff(args: argparse.Namespace, sensor=None) -> Handoff | None:
    """Open the sinks named by repeated ``--handoff URL`` (a bad URL fails before any work)."""
    if not args.handoff:
        return None
    from ..sinks import open_sinks
    return Handoff(open_sinks(args.handoff, spool_dir=args.spool_dir, sensor_id=args.sensor_id,
                              sensor=sensor))
