"""Build and drive the virtual RTL-SDR dongle (vdongle.c) for tests.

``build(directory)`` compiles the C library with gcc into ``directory`` as
``librtlsdr.so.0`` (the name Debian's rtl_tcp and rtl_sdr load) with a
``librtlsdr.so`` link (the name pyrtlsdr looks for along LD_LIBRARY_PATH).
``environment(...)`` returns the variables that point a process at it.

pyrtlsdr tries the librtlsdr bundled by ``pyrtlsdrlib`` before
LD_LIBRARY_PATH; ``PYRTLSDR_PRELUDE`` is Python code, run first in a child
process, that blocks that package so the virtual library is the one loaded,
and ``loaded_librtlsdr()`` reads /proc/self/maps to check which file was.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SOURCE = Path(__file__).with_name("vdongle.c")
LIBNAME = "librtlsdr.so.0"

# Run in a child before importing rtlsdr: pyrtlsdrlib must not win the search.
PYRTLSDR_PRELUDE = "import sys; sys.modules['pyrtlsdrlib'] = None\n"


def gcc_available() -> bool:
    return shutil.which("gcc") is not None


def build(directory: str | os.PathLike) -> Path:
    """Compile the virtual dongle into ``directory``; return the directory."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    lib = d / LIBNAME
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-fvisibility=hidden",
                    f"-Wl,-soname,{LIBNAME}", "-o", str(lib), str(SOURCE), "-lpthread", "-lm"],
                   check=True, capture_output=True, timeout=60)
    link = d / "librtlsdr.so"
    if not link.exists():
        link.symlink_to(LIBNAME)
    return d


def environment(lib_dir, *, iq=None, scenario=None, control=None, log=None, serial=None,
                stall_at=None, drop_at=None, unplug_at=None, base=None) -> dict:
    """Environment for a process that should see the virtual dongle.

    ``scenario``: list of (center_freq_hz, path.cu8) written next to the first file.
    ``stall_at`` (t_s, seconds), ``drop_at`` (t_s, buffers), ``unplug_at`` (t_s, seconds).
    """
    env = dict(os.environ if base is None else base)
    for key in list(env):
        if key.startswith("VDONGLE_"):
            del env[key]
    env["LD_LIBRARY_PATH"] = str(lib_dir) + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    if iq is not None:
        env["VDONGLE_IQ"] = str(iq)
    if scenario is not None:
        path = Path(scenario[0][1]).with_suffix(".scenario")
        path.write_text("".join(f"{float(f):.0f} {p}\n" for f, p in scenario))
        env["VDONGLE_SCENARIO"] = str(path)
    if control is not None:
        env["VDONGLE_CONTROL"] = str(control)
    if log is not None:
        env["VDONGLE_LOG"] = str(log)
    if serial is not None:
        env["VDONGLE_SERIAL"] = str(serial)
    for name, value in (("VDONGLE_STALL_AT", stall_at), ("VDONGLE_DROP_AT", drop_at),
                        ("VDONGLE_UNPLUG_AT", unplug_at)):
        if value is not None:
            env[name] = f"{value[0]}:{value[1]}"
    return env


def command(control, text: str) -> None:
    """Send commands to a running virtual dongle (atomic: it reads then deletes the file)."""
    control = Path(control)
    tmp = control.with_name(control.name + ".tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n")
    os.replace(tmp, control)


def wait_consumed(control, timeout_s: float = 5.0) -> bool:
    end = time.monotonic() + timeout_s
    while Path(control).exists():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def lost_samples(log) -> int:
    """Samples the dongle produced but did not deliver (from its log)."""
    total = 0
    p = Path(log)
    if p.exists():
        for line in p.read_text().splitlines():
            if line.startswith("lost "):
                total += int(line.split()[1])
    return total


def loaded_librtlsdr() -> list[str]:
    """Paths of every librtlsdr mapped into this process (read from /proc/self/maps)."""
    out = []
    with open("/proc/self/maps") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 6 and "librtlsdr" in parts[-1] and parts[-1] not in out:
                out.append(parts[-1])
    return out


# ----------------------------------------------------------------------------- test helpers

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
DRIVER = Path(__file__).with_name("driver.py")
RATE = 2.4e6


def position_pattern(path, n_samples: int = 1 << 20) -> Path:
    """cu8 whose sample p holds I = p mod 256, Q = (p >> 8) mod 256 (its own position)."""
    p = np.arange(n_samples, dtype=np.int64)
    raw = np.empty(2 * n_samples, np.uint8)
    raw[0::2] = p & 255
    raw[1::2] = (p >> 8) & 255
    raw.tofile(path)
    return Path(path)


def constant_pattern(path, value: int, n_samples: int = 1 << 16) -> Path:
    np.full(2 * n_samples, value, np.uint8).tofile(path)
    return Path(path)


def shadow_pyrtlsdrlib(directory) -> Path:
    """A directory to put first on PYTHONPATH: its pyrtlsdrlib fails to import, so
    pyrtlsdr falls back to LD_LIBRARY_PATH (where the virtual dongle is)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "pyrtlsdrlib.py").write_text("raise ImportError('pyrtlsdrlib is hidden for this test')\n")
    return d


def child_env(lib_dir, shadow_dir=None, **kw) -> dict:
    env = environment(lib_dir, **kw)
    paths = ([str(shadow_dir)] if shadow_dir else []) + [str(TESTS), str(REPO)]
    env["PYTHONPATH"] = ":".join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_driver(env, *args, timeout: float = 30.0) -> dict:
    """Run driver.py in a child (a crashing C library cannot take pytest down)."""
    proc = subprocess.run([sys.executable, str(DRIVER), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"driver failed (rc {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class RtlTcpServer:
    """Debian's rtl_tcp on the virtual dongle, on a free port; restartable."""

    def __init__(self, env, port: int | None = None):
        self.env = env
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RtlTcpServer":
        self.proc = subprocess.Popen(["rtl_tcp", "-a", "127.0.0.1", "-p", str(self.port)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port_listening(self.port):
            self.stop()
            raise AssertionError("rtl_tcp did not start listening")
        return self

    def stop(self, crash: bool = False) -> None:
        """Stop the server; ``crash`` kills it outright (rtl_tcp can hang on SIGTERM
        while a client is connected)."""
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            if crash:
                p.kill()
                p.wait(timeout=5)
                return
            p.terminate()
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)


def wait_port_listening(port: int, timeout_s: float = 10.0, state: str = "0A") -> bool:
    """True once something listens on 127.0.0.1:port (checked without connecting:
    rtl_tcp serves a single client and would take a probe for one).  ``state``
    "01" waits for an established connection to the port instead."""
    end = time.monotonic() + timeout_s
    hexport = f"{port:04X}"
    while time.monotonic() < end:
        try:
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
                parts = line.split()
                if parts[1].endswith(":" + hexport) and parts[3] == state:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def vdongle_dir(tmp_path_factory):
    if not gcc_available():
        pytest.skip("gcc is not installed: the virtual dongle cannot be built")
    return build(tmp_path_factory.mktemp("vdongle"))


@pytest.fixture(scope="session")
def shadow_dir(tmp_path_factory):
    return shadow_pyrtlsdrlib(tmp_path_factory.mktemp("shadow"))


@pytest.fixture(scope="session")
def position_cu8(tmp_path_factory):
    return position_pattern(tmp_path_factory.mktemp("iq") / "position.cu8")


def elrs_cu8_file(path, seconds: float = 2.0, first_s: float = 0.5, bursts: int = 40, offset_hz: float = 300e3,
                  seed: int = 1) -> Path:
    """cu8 at 2.4 MS/s: noise and ExpressLRS-like bursts (4.38 ms every 5 ms, 500 kHz wide,
    20 dB) starting at ``first_s``, ``offset_hz`` off the tuned frequency."""
    from synth import TrueBurst, scene
    n = int(RATE * seconds)
    true = [TrueBurst(int((first_s + i * 5e-3) * RATE), int(4.38e-3 * RATE), offset_hz, 500e3, 20.0)
            for i in range(bursts)]
    x = scene(RATE, n, true, seed=seed)
    v = np.clip(np.round(np.stack([x.real, x.imag], -1).reshape(-1) * 127.5 + 127.5), 0, 255).astype(np.uint8)
    v.tofile(path)
    return Path(path)
