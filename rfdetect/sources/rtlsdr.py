"""A local RTL-SDR dongle through pyrtlsdr (the only module that imports ``rtlsdr``).

The reader thread runs librtlsdr's asynchronous read; its callback copies each
transfer into the bounded queue of ``LiveSource`` and returns at once, so
processing never holds up USB.  Losses are accounted (see accounting.py).

pyrtlsdr 0.5.1 binds functions missing from the librtlsdr 0.6.0 that Debian
and Ubuntu ship; the ``pyrtlsdrlib`` package bundles a recent librtlsdr that
pyrtlsdr prefers.  ``load_pyrtlsdr(library=PATH)`` loads exactly the given
librtlsdr file instead.
"""
from __future__ import annotations

import ctypes
import sys
import types

import numpy as np

from ..errors import DeviceError, ParameterError
from .accounting import LiveConfig, LiveSource, check_rate

INSTALL_HINT = ("install pyrtlsdr and pyrtlsdrlib (pip install 'rfdetect[rtlsdr]'); pyrtlsdrlib "
                "bundles a recent librtlsdr (Debian/Ubuntu's librtlsdr0 0.6.0 is too old for pyrtlsdr)")

TUNER_NAMES = {0: "unknown", 1: "E4000", 2: "FC0012", 3: "FC0013", 4: "FC2580", 5: "R820T", 6: "R828D"}


def load_pyrtlsdr(library: str | None = None):
    """Import pyrtlsdr and return the module; DeviceError naming what to install.

    ``library``: path of the librtlsdr shared library to load (default: pyrtlsdr's
    own search, which tries pyrtlsdrlib's bundled copy first).
    """
    if library is not None:
        loaded = sys.modules.get("rtlsdr.librtlsdr")
        if loaded is not None:
            name = getattr(getattr(loaded, "librtlsdr", None), "_name", None)
            if name != str(library):
                raise DeviceError(f"librtlsdr {name} is already loaded in this process; "
                                  "it cannot be swapped", param="library", value=str(library))
        else:
            path = str(library)
            stub = types.ModuleType("pyrtlsdrlib")
            stub.load_librtlsdr = lambda: ctypes.CDLL(path)   # pyrtlsdr asks this first
            saved = sys.modules.get("pyrtlsdrlib")
            sys.modules["pyrtlsdrlib"] = stub
            try:
                return _import()
            finally:
                if saved is not None:
                    sys.modules["pyrtlsdrlib"] = saved
                else:
                    sys.modules.pop("pyrtlsdrlib", None)
    return _import()


def _import():
    try:
        import rtlsdr
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "rtlsdr":
            raise DeviceError(f"pyrtlsdr is not installed: {INSTALL_HINT}") from None
        raise
    except AttributeError as exc:
        # "undefined symbol: rtlsdr_set_dithering": the librtlsdr found is older than pyrtlsdr needs
        raise DeviceError(f"the librtlsdr found is too old for pyrtlsdr ({exc}): {INSTALL_HINT}") from None
    except OSError as exc:
        raise DeviceError(f"librtlsdr could not be loaded ({exc}): {INSTALL_HINT}") from None
    except ImportError as exc:
        raise DeviceError(f"librtlsdr was not found ({exc}): {INSTALL_HINT}, "
                          "or apt install librtlsdr0 with a librtlsdr >= 2.0") from None
    if getattr(rtlsdr, "RtlSdr", None) is None:
        raise DeviceError("pyrtlsdr runs in client-only mode (RTLSDR_CLIENT_MODE is set): "
                          "unset it to use a local dongle")
    return rtlsdr


def loaded_library() -> str | None:
    """Path of the librtlsdr pyrtlsdr loaded, if it is loaded."""
    mod = sys.modules.get("rtlsdr.librtlsdr")
    lib = getattr(mod, "librtlsdr", None)
    return getattr(lib, "_name", None)


def list_devices(library: str | None = None) -> list[dict]:
    rtlsdr = load_pyrtlsdr(library)
    lib = rtlsdr.librtlsdr
    out = []
    for i in range(int(lib.rtlsdr_get_device_count())):
        m, p, s = ((ctypes.c_ubyte * 256)() for _ in range(3))
        ok = lib.rtlsdr_get_device_usb_strings(i, m, p, s) == 0

        def text(buf) -> str:
            return bytes(buf).split(b"\0")[0].decode(errors="replace") if ok else ""

        out.append({"index": i, "name": (lib.rtlsdr_get_device_name(i) or b"").decode(errors="replace"),
                    "manufacturer": text(m), "product": text(p), "serial": text(s)})
    return out


class RtlSdrSource(LiveSource):
    """Live cu8 samples from a local RTL-SDR.

    ``device``: index (int or digits) or serial number (str).  ``gain_db``: None
    for the tuner's automatic gain, else the nearest supported gain.  ``agc``:
    the RTL2832's digital AGC.  ``direct_sampling``: 0 off, 1 I branch, 2 Q branch
    (HF below 24 MHz).  Call ``start()`` (or iterate ``blocks()``) to open it.
    """

    hardware = "RTL-SDR"

    def __init__(self, device: int | str = 0, *, sample_rate_hz: float = 2.4e6,
                 center_freq_hz: float = 868e6, gain_db: float | None = None, agc: bool = False,
                 ppm: int = 0, bias_tee: bool = False, direct_sampling: int = 0,
                 config: LiveConfig | None = None, library: str | None = None):
        check_rate(float(sample_rate_hz))
        if direct_sampling not in (0, 1, 2):
            raise ParameterError("must be 0 (off), 1 (I) or 2 (Q)", param="--direct-sampling",
                                 value=direct_sampling)
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        self.device = device
        self.agc = bool(agc)
        self.ppm = int(ppm)
        self.bias_tee = bool(bias_tee)
        self.direct_sampling = int(direct_sampling)
        self.library = library
        self._sdr = None
        self.serial: str | None = device if isinstance(device, str) else None
        self.tuner = ""
        super().__init__(f"rtlsdr:{device}", sample_rate_hz, center_freq_hz, gain_db, config)

    def describe(self) -> dict:
        return {**super().describe(), "device": self.device, "serial": self.serial, "tuner": self.tuner,
                "ppm": self.ppm, "agc": self.agc, "bias_tee": self.bias_tee,
                "direct_sampling": self.direct_sampling, "librtlsdr": loaded_library()}

    # -- receiver ------------------------------------------------------------------

    def _connect(self) -> None:
        rtlsdr = load_pyrtlsdr(self.library)
        count = int(rtlsdr.librtlsdr.rtlsdr_get_device_count())
        if count == 0:
            raise DeviceError("no RTL-SDR dongle found: plug one in (on Linux, also blacklist the "
                              "dvb_usb_rtl28xxu kernel module and install the rtl-sdr udev rules)",
                              param="--device", value=self.device)
        try:
            if self.serial is not None:
                sdr = rtlsdr.RtlSdr(serial_number=self.serial)
            else:
                if not 0 <= int(self.device) < count:
                    raise DeviceError(f"no such device: {count} dongle(s) found (indices 0..{count - 1})",
                                      param="--device", value=self.device)
                sdr = rtlsdr.RtlSdr(device_index=int(self.device))
        except DeviceError:
            raise
        except Exception as exc:
            raise DeviceError(f"cannot open the RTL-SDR: {exc}", param="--device", value=self.device) from None
        try:
            sdr.set_sample_rate(int(round(self.sample_rate_hz)))
            if self.direct_sampling:
                sdr.set_direct_sampling(self.direct_sampling)
            if self.ppm:
                sdr.set_freq_correction(self.ppm)
            sdr.set_center_freq(int(round(self.center_freq_hz)))
            if self.gain_db is None:
                sdr.set_manual_gain_enabled(False)
            else:
                sdr.set_manual_gain_enabled(True)
                sdr.set_gain(float(self.gain_db))
            sdr.set_agc_mode(self.agc)
            sdr.set_bias_tee(self.bias_tee)
            self.tuner = TUNER_NAMES.get(int(sdr.get_tuner_type()), "unknown")
            if self.serial is None:
                try:
                    self.serial = rtlsdr.RtlSdr.get_device_serial_addresses()[int(self.device)]
                except Exception:
                    pass
            sdr.DEFAULT_ASYNC_BUF_NUMBER = 8
        except Exception as exc:
            try:
                sdr.close()
            except Exception:
                pass
            raise DeviceError(f"cannot configure the RTL-SDR: {exc}", param="--device",
                              value=self.device) from None
        self._sdr = sdr

    def _stream(self) -> None:
        sdr = self._sdr
        if sdr is None:
            raise DeviceError("not open", path=self.info.path)
        deliver = self._deliver

        def callback(values, context):
            deliver(np.ctypeslib.as_array(values))

        try:
            # returns when cancelled, or (as librtlsdr does) when the device vanished
            sdr.read_bytes_async(callback, num_bytes=2 * self.config.buffer_samples)
        except Exception as exc:
            raise DeviceError(f"the RTL-SDR stopped delivering: {exc}", path=self.info.path) from None

    def _cancel(self) -> None:
        sdr = self._sdr
        if sdr is not None:
            try:
                sdr.cancel_read_async()
            except Exception:
                pass

    def _disconnect(self) -> None:
        sdr, self._sdr = self._sdr, None
        if sdr is not None:
            try:
                sdr.close()
            except Exception:
                pass

    def _set_frequency(self, center_freq_hz: float) -> None:
        sdr = self._sdr
        if sdr is None:
            return
        try:
            sdr.set_center_freq(int(round(center_freq_hz)))
        except Exception as exc:
            raise DeviceError(f"cannot tune to {center_freq_hz:.0f} Hz: {exc}", path=self.info.path) from None
