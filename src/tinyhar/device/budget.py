"""The cost of a C export on a microcontroller: flash, RAM, stack and instructions.

:func:`c_budget` measures a folder written by :func:`tinyhar.export.c.export_c`:

* **Flash and static RAM on a Cortex-M4F**: ``tinyhar_model.c`` compiled with
  ``arm-none-eabi-gcc -std=c99 -Os -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16
  -mfloat-abi=hard -ffp-contract=off -ffunction-sections -fdata-sections -c``
  (:data:`CORTEX_M4F_FLAGS`); sizes from ``arm-none-eabi-size``
  (Berkeley format: ``text`` holds code and constant tables): flash = text +
  data, RAM = data + bss. The object holds the library only; the libm
  routines it calls (``atan2f``, ``hypotf``, ``logf``) are added by linking
  it into a minimal newlib-nano program (``flash_with_libm_bytes``).
* **Stack**: per-function frames from ``-fstack-usage`` and the call graph
  from ``-fcallgraph-info=su`` (GCC >= 10); the deepest chain from a public
  function, libm excluded.
* **Instructions per window on the host**: the example program built with
  ``gcc -O2 -g`` classifies ``n_windows`` windows under ``valgrind
  --tool=callgrind``; the inclusive instruction counts of ``tinyhar_features``
  and ``tinyhar_predict`` divided by the number of windows (parsing and
  printing are not counted). Each feature group is a separate non-inlined C
  function (``thr_stage_<group>``), so the same profile gives the cost of
  each group. Callgrind counts are deterministic: the same binary on the
  same windows gives the same numbers.
* **MicroPython**: ``tinyhar.export.micropython.time_per_window`` on the
  MicroPython bundle, when that module and a bundle are available.

A missing tool never raises: its fields are ``None`` and ``missing`` lists it
with the install command.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinyhar.errors import TinyharError
from tinyhar.tools import find_tool, missing_message
from tinyhar.validation import check_windows

__all__ = [
    "CORTEX_M4F_FLAGS",
    "FLASH_BUDGET_BYTES",
    "GROUPS",
    "RAM_BUDGET_BYTES",
    "c_budget",
    "format_budget",
    "post_budget",
    "write_budget",
]

FLASH_BUDGET_BYTES = 32 * 1024
"""Target flash of the default pipeline on a Cortex-M4F (32 kB)."""

RAM_BUDGET_BYTES = 8 * 1024
"""Target static RAM of the default pipeline on a Cortex-M4F (8 kB)."""

CORTEX_M4F_FLAGS = (
    "-std=c99", "-Os", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard",
    "-ffp-contract=off", "-ffunction-sections", "-fdata-sections",
)
"""arm-none-eabi-gcc flags of the size measurement."""

GROUPS = ("prepare", "gravity", "body", "jerk", "statistics", "correlation", "spectral", "enmo",
          "trees")
"""Cost groups: C stage ``thr_stage_<group>*`` (``trees``: ``tinyhar_predict``).

``prepare``: loading channels, magnitudes; ``gravity``: low-pass filter,
mean gravity, tilt; ``body``: body magnitude and the
orientation-independent vertical / horizontal signals; ``statistics``: time
statistics of every signal (sorting included) and the SMA of a triad (gyro,
body acceleration); ``jerk``;
``correlation``; ``spectral``: FFT and spectral features; ``enmo``; ``trees``:
the ensemble. ``other`` in a budget is the rest (the driver)."""

_TREE_SYMBOLS = ("thr_node_feature", "thr_node_threshold", "thr_node_left", "thr_node_right",
                 "thr_roots", "thr_leaves")
_API_FUNCTIONS = ("tinyhar_classify", "tinyhar_stream_classify", "tinyhar_predict",
                  "tinyhar_features", "tinyhar_stream_push", "tinyhar_stream_init")

_STUB = """\
#include "tinyhar_model.h"
volatile float tinyhar_stub_in[TINYHAR_WINDOW_VALUES];
volatile int tinyhar_stub_out;
int main(void)
{
#ifdef USE_TINYHAR
    static float proba[TINYHAR_N_CLASSES];
    tinyhar_stub_out = tinyhar_classify((const float *)tinyhar_stub_in, proba);
#ifndef TINYHAR_NO_STREAM
    tinyhar_stream_init();
    if (tinyhar_stream_push((const float *)tinyhar_stub_in)) {
        tinyhar_stub_out += tinyhar_stream_classify(proba);
    }
#endif
#endif
    return tinyhar_stub_out;
}
"""


def _run(cmd: list[str], cwd: Path | None = None, stdin: str | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise TinyharError(f"{' '.join(cmd)} failed:\n{proc.stderr.strip()}")
    return proc


def _header_defines(c_dir: Path) -> dict[str, str]:
    path = c_dir / "tinyhar_model.h"
    if not path.is_file():
        raise TinyharError(f"{path}: missing; write the C export with tinyhar.export.c.export_c")
    return dict(re.findall(r"^#define (TINYHAR_\w+) (\S+)", path.read_text(encoding="utf-8"),
                           flags=re.M))


# --------------------------------------------------------------------------- Cortex-M4F


def _parse_size(text: str) -> tuple[int, int, int]:
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and all(p.isdigit() for p in parts[:3]):
            return int(parts[0]), int(parts[1]), int(parts[2])
    raise TinyharError(f"cannot read the output of arm-none-eabi-size:\n{text}")


def _parse_nm(text: str) -> list[tuple[str, int, str]]:
    """(name, bytes, kind) with kind code / const / data / bss."""
    kinds = {"t": "code", "r": "const", "d": "data", "b": "bss"}
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2].lower() in kinds:
            out.append((parts[3], int(parts[1], 16), kinds[parts[2].lower()]))
    return out


def _stack_depth(ci_text: str, api: tuple[str, ...] | None = None
                 ) -> tuple[int | None, list[str]]:
    """Deepest stack (bytes) over call chains from the public API, and that chain."""
    frames: dict[str, int] = {}
    names: dict[str, str] = {}
    for title, label in re.findall(r'node: \{ title: "([^"]+)" label: "([^"]*)"', ci_text):
        m = re.search(r"\\n(\d+) bytes", label)
        names[title] = label.split("\\n", 1)[0]
        frames[title] = int(m.group(1)) if m else 0
    edges: dict[str, set[str]] = {}
    for src, dst in re.findall(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', ci_text):
        edges.setdefault(src, set()).add(dst)
    memo: dict[str, tuple[int, list[str]]] = {}

    def deepest(node: str, seen: frozenset[str]) -> tuple[int, list[str]]:
        if node in memo:
            return memo[node]
        best = (0, [])
        for nxt in edges.get(node, ()):
            if nxt in seen:  # recursion (pairwise sum): counted once per level below
                continue
            best = max(best, deepest(nxt, seen | {nxt}), key=lambda x: x[0])
        result = (frames.get(node, 0) + best[0], [names.get(node, node), *best[1]])
        memo[node] = result
        return result

    roots = [t for t, n in names.items() if n in (api or _API_FUNCTIONS)]
    if not roots:
        return None, []
    depth, chain = max((deepest(r, frozenset({r})) for r in roots), key=lambda x: x[0])
    return depth, chain


def _cortex_m4f(c_dir: Path, budget: dict) -> None:
    gcc = find_tool("arm-none-eabi-gcc")
    size = find_tool("arm-none-eabi-size")
    if gcc is None:
        budget["missing"].append(missing_message("arm-none-eabi-gcc"))
        return
    if size is None:
        budget["missing"].append(missing_message("arm-none-eabi-size"))
        return
    budget["arm_compiler"] = _run([gcc, "--version"]).stdout.splitlines()[0]
    with tempfile.TemporaryDirectory(prefix="tinyhar_m4_") as tmp:
        tmp = Path(tmp)
        obj = tmp / "tinyhar_model.o"
        flags = list(CORTEX_M4F_FLAGS)
        src = str((c_dir / "tinyhar_model.c").resolve())
        proc = _run([gcc, *flags, "-fstack-usage", "-fcallgraph-info=su", "-c", src,
                     "-o", str(obj)], cwd=tmp, check=False)
        if proc.returncode != 0:  # older GCC without -fcallgraph-info
            _run([gcc, *flags, "-fstack-usage", "-c", src, "-o", str(obj)], cwd=tmp)
        text, data, bss = _parse_size(_run([size, str(obj)]).stdout)
        budget.update({
            "text_bytes": text, "data_bytes": data, "bss_bytes": bss,
            "flash_bytes": text + data, "ram_bytes": data + bss,
        })
        nm = find_tool("arm-none-eabi-nm")
        if nm is None:
            budget["missing"].append(missing_message("arm-none-eabi-nm"))
        else:
            symbols = _parse_nm(_run([nm, "-S", "--size-sort", str(obj)]).stdout)
            trees = sum(s for n, s, k in symbols if n in _TREE_SYMBOLS)
            const = sum(s for n, s, k in symbols if k == "const" and n not in _TREE_SYMBOLS)
            budget["flash_breakdown"] = {
                "trees": trees,
                "tables": const,
                "code": text + data - trees - const,
            }
            budget["ram_breakdown"] = {n: s for n, s, k in sorted(symbols, key=lambda x: -x[1])
                                       if k in ("bss", "data")}
            budget["largest_symbols"] = [[n, s, k] for n, s, k in
                                         sorted(symbols, key=lambda x: -x[1])[:8]]
        ci = tmp / "tinyhar_model.ci"
        if ci.is_file():
            depth, chain = _stack_depth(ci.read_text(encoding="utf-8"))
            budget["stack_bytes"] = depth
            budget["stack_chain"] = chain
        # Library + the libm routines it uses, linked into a minimal newlib-nano program.
        (tmp / "stub.c").write_text(_STUB, encoding="utf-8")
        link = [gcc, *flags, f"-I{c_dir.resolve()}", "--specs=nano.specs", "--specs=nosys.specs",
                "-Wl,--gc-sections"]
        base = _run([*link, str(tmp / "stub.c"), "-o", str(tmp / "base.elf"), "-lm"],
                    check=False)
        full = _run([*link, "-DUSE_TINYHAR", str(tmp / "stub.c"), str(obj),
                     "-o", str(tmp / "full.elf"), "-lm"], check=False)
        if base.returncode == 0 and full.returncode == 0:
            t0, d0, _ = _parse_size(_run([size, str(tmp / "base.elf")]).stdout)
            t1, d1, _ = _parse_size(_run([size, str(tmp / "full.elf")]).stdout)
            budget["flash_with_libm_bytes"] = (t1 + d1) - (t0 + d0)
        else:
            budget["notes"].append(
                "linking with newlib-nano failed (is libnewlib-arm-none-eabi installed?): "
                + (full.stderr or base.stderr).strip().splitlines()[-1]
            )
    budget["flash_ok"] = budget["flash_bytes"] <= budget["flash_budget_bytes"]
    budget["ram_ok"] = budget["ram_bytes"] <= budget["ram_budget_bytes"]
    budget["flash_over_by_bytes"] = max(0, budget["flash_bytes"] - budget["flash_budget_bytes"])
    budget["ram_over_by_bytes"] = max(0, budget["ram_bytes"] - budget["ram_budget_bytes"])


# --------------------------------------------------------------------------- host profile


def synthetic_windows(n_windows: int, n_samples: int, n_channels: int,
                      sampling_rate_hz: float, seed: int = 0) -> np.ndarray:
    """Deterministic walking-like windows for profiling.

    Parameters
    ----------
    n_windows, n_samples, n_channels : int
        Output shape.
    sampling_rate_hz : float
        Sampling rate in Hz.
    seed : int
        Seed of the noise.

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)
        Channel ``c``: ``(1 if c % 3 == 2 else 0) + 0.3 sin(2 pi f t + c)`` plus
        Gaussian noise (sd 0.05), ``f`` uniform in 0.8-2.5 Hz per window (g or
        rad/s).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / float(sampling_rate_hz)
    f = rng.uniform(0.8, 2.5, size=(n_windows, 1, 1))
    c = np.arange(n_channels)[None, None, :]
    X = (c % 3 == 2) + 0.3 * np.sin(2 * np.pi * f * t[None, :, None] + c)
    X = X + rng.normal(0.0, 0.05, size=X.shape)
    return X.astype(np.float32)


_ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(?:.*:)?([\w.$@]+)(?:\s+\[.*\])?\s*$")


def _parse_inclusive(text: str) -> dict[str, int]:
    """Function name -> inclusive instructions, from ``callgrind_annotate --inclusive=yes``."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        m = _ANNOTATE_LINE.match(line)
        if m:
            name = m.group(2)
            out[name] = max(out.get(name, 0), int(m.group(1).replace(",", "")))
    return out


def _group_of(function: str) -> str | None:
    # The stages are noinline + noclone: a clone (f.part.0, f.constprop.0) would be
    # counted inside its caller's inclusive cost, so dotted names are skipped.
    if function == "tinyhar_predict":
        return "trees"
    if function.startswith("thr_stage_") and "." not in function:
        return function[len("thr_stage_"):].split("_", 1)[0]
    return None


def _profile_windows(c_dir: Path, windows: object) -> np.ndarray:
    """``windows`` as float32 ``(n_windows, n_samples, n_channels)`` of the export, or raise."""
    defs = _header_defines(c_dir)
    return check_windows(
        windows, source="profile windows", n_channels=int(defs["TINYHAR_N_CHANNELS"]),
        n_samples=int(defs["TINYHAR_N_SAMPLES"]), min_windows=1,
        trained_on=f"the C export in {c_dir} takes",
        error=lambda source, message: TinyharError(f"{source}: {message}"),
    )


def _host_profile(c_dir: Path, budget: dict, windows: np.ndarray | None, n_windows: int) -> None:
    from tinyhar.export.c_runner import EXAMPLE_BINARY, build_example, format_rows

    missing = [t for t in ("gcc", "valgrind", "callgrind_annotate") if find_tool(t) is None]
    if missing:
        budget["missing"].extend(missing_message(t) for t in missing)
        return
    defs = _header_defines(c_dir)
    n, c = int(defs["TINYHAR_N_SAMPLES"]), int(defs["TINYHAR_N_CHANNELS"])
    fs = float(defs["TINYHAR_SAMPLING_RATE_HZ"].rstrip("f"))
    if windows is None:
        windows = synthetic_windows(n_windows, n, c, fs)
        budget["profile_windows"] = f"{len(windows)} synthetic walking-like windows (seed 0)"
    else:  # checked by c_budget (_profile_windows)
        budget["profile_windows"] = f"{len(windows)} given windows"
    if len(windows) == 0:
        raise TinyharError("profiling needs at least one window")
    with tempfile.TemporaryDirectory(prefix="tinyhar_cg_") as tmp:
        tmp = Path(tmp)
        exe = build_example(c_dir, tmp / EXAMPLE_BINARY, extra_flags=["-g"])
        out = tmp / "callgrind.out"
        rows = "\n".join(format_rows(windows.reshape(len(windows), -1))) + "\n"
        _run([find_tool("valgrind"), "--tool=callgrind", f"--callgrind-out-file={out}",
              str(exe), "--windows"], stdin=rows)
        text = _run([find_tool("callgrind_annotate"), "--inclusive=yes", "--threshold=100",
                     str(out)]).stdout
    inclusive = _parse_inclusive(text)
    k = len(windows)
    total = inclusive.get("tinyhar_features", 0) + inclusive.get("tinyhar_predict", 0)
    if total == 0:
        budget["notes"].append("callgrind_annotate listed no tinyhar function; no counts")
        return
    groups = dict.fromkeys(GROUPS, 0)
    for name, count in inclusive.items():
        g = _group_of(name)
        if g is not None:
            groups[g] = groups.get(g, 0) + count
    per_group = {g: round(v / k) for g, v in groups.items()}
    per_window = round(total / k)
    per_group["other"] = per_window - sum(per_group.values())
    budget["host"] = "x86-64, gcc -O2 (" + _run(["gcc", "-dumpfullversion"]).stdout.strip() + ")"
    budget["n_windows_profiled"] = k
    budget["instructions_per_window"] = per_window
    budget["instructions_per_group"] = per_group


# --------------------------------------------------------------------------- MicroPython


def _micropython(c_dir: Path, micropython_dir: str | Path | None, budget: dict) -> None:
    try:
        from tinyhar.export.micropython import time_per_window
    except ImportError as exc:
        budget["micropython_reason"] = (
            f"tinyhar.export.micropython.time_per_window is not available ({exc})"
        )
        return
    if micropython_dir is None:
        guess = c_dir.parent / "micropython"
        if not guess.is_dir():
            budget["micropython_reason"] = (
                f"no MicroPython bundle (looked for {guess}); pass micropython_dir"
            )
            return
        micropython_dir = guess
    try:
        result = time_per_window(micropython_dir)
    except Exception as exc:  # a failing timing must not hide the C budget
        budget["micropython_reason"] = f"time_per_window({micropython_dir}) failed: {exc}"
        return
    result = dict(result or {})
    budget["micropython"] = result
    ms = result.get("micropython_ms_per_window", result.get("ms_per_window"))
    budget["micropython_ms_per_window"] = None if ms is None else float(ms)
    if ms is None:
        budget["micropython_reason"] = result.get("reason", "time_per_window reported no time")


# --------------------------------------------------------------------------- API


def c_budget(c_dir: str | Path, windows: np.ndarray | None = None, n_windows: int = 16,
             micropython_dir: str | Path | None = None, profile: bool = True) -> dict:
    """Measure the device cost of a C export.

    Parameters
    ----------
    c_dir : str or Path
        Folder written by :func:`tinyhar.export.c.export_c`.
    windows : numpy.ndarray, shape (n_windows, n_samples, n_channels), optional
        Windows to profile the instruction counts on (g, rad/s); default
        :func:`synthetic_windows` (``n_windows`` of them). The counts depend a
        little on the data (sorting).
    n_windows : int, default 16
        Number of synthetic windows when ``windows`` is None.
    micropython_dir : str or Path, optional
        MicroPython bundle to time (default ``c_dir/../micropython`` if it exists).
    profile : bool, default True
        Run the callgrind profile (the slow part: about 0.05 s per window).

    Returns
    -------
    dict
        ``flash_bytes`` (text + data), ``ram_bytes`` (data + bss),
        ``text_bytes``, ``data_bytes``, ``bss_bytes``, ``flash_breakdown``
        (``trees`` arrays, other constant ``tables``, ``code``),
        ``ram_breakdown`` (static buffers), ``largest_symbols``,
        ``stack_bytes`` and ``stack_chain`` (deepest call chain from the API,
        libm excluded), ``flash_with_libm_bytes`` (linked with newlib-nano's
        libm), the budgets ``flash_budget_bytes`` / ``ram_budget_bytes``,
        ``flash_ok`` / ``ram_ok`` and ``flash_over_by_bytes`` /
        ``ram_over_by_bytes``; ``instructions_per_window`` and
        ``instructions_per_group`` (host, :data:`GROUPS` plus ``other``),
        ``n_windows_profiled``; ``micropython_ms_per_window`` (None with
        ``micropython_reason`` when not measured); ``missing`` (one line per
        missing tool with its install command) and ``notes``. Fields a
        missing tool prevents are None.

    Raises
    ------
    TinyharError
        If ``c_dir`` holds no export, a build fails, or ``windows`` has the
        wrong shape.
    """
    c_dir = Path(c_dir)
    defs = _header_defines(c_dir)
    budget: dict = {
        "c_dir": str(c_dir),
        "target": "Cortex-M4F (arm-none-eabi-gcc " + " ".join(CORTEX_M4F_FLAGS) + ")",
        "n_window_features": int(defs.get("TINYHAR_N_WINDOW_FEATURES", 0)),
        "flash_bytes": None, "ram_bytes": None, "text_bytes": None, "data_bytes": None,
        "bss_bytes": None, "flash_breakdown": None, "ram_breakdown": None,
        "largest_symbols": None, "stack_bytes": None, "stack_chain": None,
        "flash_with_libm_bytes": None,
        "flash_budget_bytes": FLASH_BUDGET_BYTES, "ram_budget_bytes": RAM_BUDGET_BYTES,
        "flash_ok": None, "ram_ok": None, "flash_over_by_bytes": None, "ram_over_by_bytes": None,
        "instructions_per_window": None, "instructions_per_group": None,
        "n_windows_profiled": 0,
        "micropython_ms_per_window": None, "micropython_reason": None,
        "missing": [], "notes": [],
    }
    if profile and windows is not None:  # a user mistake fails before the slow builds
        windows = _profile_windows(c_dir, windows)
    _cortex_m4f(c_dir, budget)
    if profile:
        _host_profile(c_dir, budget, windows, n_windows)
    _micropython(c_dir, micropython_dir, budget)
    if (c_dir / "tinyhar_post.c").is_file():  # the run's post-processing, exported beside
        budget["postprocess"] = post_budget(c_dir, micropython_dir=micropython_dir,
                                            profile=profile)
    return budget


def write_budget(out_dir: str | Path, budget: dict) -> Path:
    """Write ``budget.json`` into a folder (atomically: temporary file + rename).

    Parameters
    ----------
    out_dir : str or Path
        Folder (created).
    budget : dict
        From :func:`c_budget`.

    Returns
    -------
    Path
        The written file.
    """
    from tinyhar.runfolder import write_text_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(
        out / "budget.json", json.dumps(budget, indent=2, default=_json_default) + "\n"
    )


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _kb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:.1f} kB"


def format_budget(budget: dict) -> str:
    """A plain-text table of a budget, for printing.

    Parameters
    ----------
    budget : dict
        From :func:`c_budget`.

    Returns
    -------
    str
        Lines ``quantity  value  budget  status``, the instructions per
        feature group, the MicroPython timing and the missing tools.
    """
    def status(ok: bool | None, over: int | None) -> str:
        if ok is None:
            return "not measured"
        return "ok" if ok else f"OVER by {over} B"

    rows = [("quantity", "value", "budget", "status")]
    rows.append(("flash (text+data)", _kb(budget.get("flash_bytes")),
                 _kb(budget.get("flash_budget_bytes")),
                 status(budget.get("flash_ok"), budget.get("flash_over_by_bytes"))))
    rows.append(("static RAM (data+bss)", _kb(budget.get("ram_bytes")),
                 _kb(budget.get("ram_budget_bytes")),
                 status(budget.get("ram_ok"), budget.get("ram_over_by_bytes"))))
    rows.append(("stack (deepest chain)", "-" if budget.get("stack_bytes") is None
                 else f"{budget['stack_bytes']} B", "", "libm excluded"))
    rows.append(("flash incl. libm", _kb(budget.get("flash_with_libm_bytes")), "",
                 "newlib-nano"))
    breakdown = budget.get("flash_breakdown") or {}
    for key in ("trees", "tables", "code"):
        if key in breakdown:
            rows.append((f"  flash: {key}", _kb(breakdown[key]), "", ""))
    ipw = budget.get("instructions_per_window")
    rows.append(("instructions / window", "-" if ipw is None else f"{ipw:,}", "",
                 budget.get("host", "host")))
    for group, count in (budget.get("instructions_per_group") or {}).items():
        share = f"{100 * count / ipw:.1f} %" if ipw else ""
        rows.append((f"  {group}", f"{count:,}", "", share))
    ms = budget.get("micropython_ms_per_window")
    rows.append(("MicroPython ms / window", "-" if ms is None else f"{ms:.2f}", "",
                 "" if ms is not None else (budget.get("micropython_reason") or "")[:60]))
    post = budget.get("postprocess")
    if post:
        rows.append(("post-processing", post.get("description") or "", "", "extra cost:"))
        rows.append(("  flash", _kb(post.get("flash_bytes")), "", "Cortex-M4F"))
        rows.append(("  RAM (state, per stream)", "-" if post.get("state_bytes") is None
                     else f"{post['state_bytes']} B", "", "tinyhar_post_state"))
        ipw = post.get("instructions_per_window")
        rows.append(("  instructions / window", "-" if ipw is None else f"{ipw:,}", "", ""))
        ms = post.get("micropython_ms_per_window")
        rows.append(("  MicroPython ms / window", "-" if ms is None else f"{ms:.3f}",
                     f"{POST_MICROPYTHON_BUDGET_MS:g}", ""))
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for item in budget.get("missing") or []:
        lines.append(f"missing: {item}")
    for note in budget.get("notes") or []:
        lines.append(f"note: {note}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- post-processing

POST_MICROPYTHON_BUDGET_MS = 0.05
"""Target time of the post-processing per window in the MicroPython unix port (ms)."""

_POST_API = ("tinyhar_post_push", "tinyhar_post_flush", "tinyhar_post_init",
             "tinyhar_post_reject", "tinyhar_post_ood_score")


def synthetic_post_input(n_windows: int, n_classes: int, n_features: int,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic class probabilities with activity-like runs, for profiling.

    Parameters
    ----------
    n_windows, n_classes, n_features : int
    seed : int

    Returns
    -------
    proba : numpy.ndarray, shape (n_windows, n_classes)
        Runs of 5-40 windows of one class (probability about 0.7) with noise.
    features : numpy.ndarray of float32, shape (n_windows, n_features)
        Standard normal values.
    runs : numpy.ndarray of int, shape (n_windows,)
        One session.
    """
    rng = np.random.default_rng(seed)
    cls = np.repeat(rng.integers(0, n_classes, n_windows), rng.integers(5, 40, n_windows))
    cls = cls[:n_windows]
    proba = rng.dirichlet(np.ones(n_classes), n_windows)
    proba[np.arange(n_windows), cls] += 2.0
    proba /= proba.sum(axis=1, keepdims=True)
    features = rng.normal(size=(n_windows, n_features)).astype(np.float32)
    return proba, features, np.zeros(n_windows, dtype=np.int64)


def post_budget(c_dir: str | Path, proba: np.ndarray | None = None,
                features: np.ndarray | None = None, runs: np.ndarray | None = None,
                micropython_dir: str | Path | None = None, profile: bool = True,
                n_windows: int = 2000) -> dict:
    """The extra device cost of a run's post-processing (``tinyhar_post.c``, ``tinyhar_post.py``).

    * **Flash**: ``tinyhar_post.c`` compiled for a Cortex-M4F with
      :data:`CORTEX_M4F_FLAGS` (text + data of the object; the HMM and OOD
      tables are ``const``). Double arithmetic runs in software there
      (libgcc), which the object does not include.
    * **RAM**: the caller-owned ``tinyhar_post_state`` (bytes per sensor
      stream, ``sizeof`` on the Cortex-M4F) plus the object's static data
      (0: the library has no state of its own) and the deepest stack from the
      API (``-fstack-usage``).
    * **Instructions per window** on the host: the example ``post_main.c``
      under callgrind, inclusive counts of ``tinyhar_post_push`` and
      ``tinyhar_post_flush`` divided by the windows (parsing excluded).
    * **MicroPython**: ``tinyhar_post.py`` in the unix port
      (:func:`tinyhar.export.mpy_runner.time_post_micropython`), when the bundle
      folder holds ``post.json``.

    Parameters
    ----------
    c_dir : str or Path
        Folder with ``tinyhar_post.{h,c}`` (:func:`tinyhar.export.post.export_post_c`).
    proba, features, runs : numpy.ndarray, optional
        Windows to profile (e.g. a run's test streams); default
        :func:`synthetic_post_input` with ``n_windows`` windows.
    micropython_dir : str or Path, optional
        Bundle with ``post.json`` (default ``c_dir/../micropython``).
    profile : bool
        Run callgrind (host instructions).
    n_windows : int
        Synthetic windows when ``proba`` is None.

    Returns
    -------
    dict
        ``description``, ``lag``, ``flash_bytes``, ``text_bytes``,
        ``data_bytes``, ``bss_bytes``, ``state_bytes``, ``stack_bytes``,
        ``instructions_per_window``, ``micropython_ms_per_window``,
        ``micropython_budget_ms``, ``micropython_ok``, ``n_windows_profiled``,
        ``input`` (what was profiled), ``missing`` and ``notes``.

    Raises
    ------
    TinyharError
        No post-processing export in ``c_dir``, or a build fails.
    """
    c_dir = Path(c_dir)
    header = c_dir / "tinyhar_post.h"
    if not header.is_file():
        raise TinyharError(f"{header}: missing; write it with tinyhar.export.post.export_post_c")
    head = header.read_text(encoding="utf-8")
    defs = dict(re.findall(r"^#define (TINYHAR_POST_\w+) (\S+)", head, flags=re.M))
    k, nf = int(defs["TINYHAR_POST_N_CLASSES"]), int(defs["TINYHAR_POST_N_FEATURES"])
    m = re.search(r"\(this run: (.*)\):", head)
    out: dict = {
        "description": m.group(1) if m else None, "lag": int(defs["TINYHAR_POST_LAG"]),
        "flash_bytes": None, "text_bytes": None, "data_bytes": None, "bss_bytes": None,
        "state_bytes": None, "stack_bytes": None, "instructions_per_window": None,
        "micropython_ms_per_window": None, "micropython_budget_ms": POST_MICROPYTHON_BUDGET_MS,
        "micropython_ok": None, "n_windows_profiled": 0, "missing": [], "notes": [],
    }
    if proba is None:
        proba, features, runs = synthetic_post_input(n_windows, k, nf)
        out["input"] = f"{n_windows} synthetic windows (seed 0)"
    else:
        out["input"] = f"{len(proba)} given windows"
    if runs is None:
        runs = np.zeros(len(proba), dtype=np.int64)
    if nf == 0:
        features = None
    _post_cortex_m4f(c_dir, out)
    if profile:
        _post_profile(c_dir, out, proba, features, runs)
    if micropython_dir is None and (c_dir.parent / "micropython" / "post.json").is_file():
        micropython_dir = c_dir.parent / "micropython"
    if micropython_dir is not None and (Path(micropython_dir) / "post.json").is_file():
        from tinyhar.export.mpy_runner import time_post_micropython

        try:
            ms = time_post_micropython(micropython_dir, proba, features, runs)
            out["micropython_ms_per_window"] = round(ms, 4)
            out["micropython_ok"] = ms <= POST_MICROPYTHON_BUDGET_MS
        except TinyharError as exc:
            out["notes"].append(f"MicroPython timing failed: {exc}")
    else:
        out["notes"].append("no MicroPython bundle with post.json: not timed")
    return out


def _post_cortex_m4f(c_dir: Path, out: dict) -> None:
    gcc, size, nm = (find_tool(t) for t in ("arm-none-eabi-gcc", "arm-none-eabi-size",
                                            "arm-none-eabi-nm"))
    missing = [t for t, p in (("arm-none-eabi-gcc", gcc), ("arm-none-eabi-size", size),
                              ("arm-none-eabi-nm", nm)) if p is None]
    if missing:
        out["missing"].extend(missing_message(t) for t in missing)
        return
    with tempfile.TemporaryDirectory(prefix="tinyhar_post_m4_") as tmp:
        tmp = Path(tmp)
        obj = tmp / "tinyhar_post.o"
        src = str((c_dir / "tinyhar_post.c").resolve())
        flags = list(CORTEX_M4F_FLAGS)
        proc = _run([gcc, *flags, "-fstack-usage", "-fcallgraph-info=su", "-c", src, "-o",
                     str(obj)], cwd=tmp, check=False)
        if proc.returncode != 0:
            _run([gcc, *flags, "-c", src, "-o", str(obj)], cwd=tmp)
        text, data, bss = _parse_size(_run([size, str(obj)]).stdout)
        out.update(text_bytes=text, data_bytes=data, bss_bytes=bss, flash_bytes=text + data)
        ci = tmp / "tinyhar_post.ci"
        if ci.is_file():
            out["stack_bytes"] = _stack_depth(ci.read_text(encoding="utf-8"), _POST_API)[0]
        (tmp / "state.c").write_text('#include "tinyhar_post.h"\n'
                                     "tinyhar_post_state tinyhar_budget_state;\n", encoding="utf-8")
        sobj = tmp / "state.o"
        _run([gcc, *flags, f"-I{c_dir.resolve()}", "-fno-common", "-c", str(tmp / "state.c"),
              "-o", str(sobj)])
        for name, nbytes, _ in _parse_nm(_run([nm, "-S", str(sobj)]).stdout):
            if name == "tinyhar_budget_state":
                out["state_bytes"] = nbytes


def _post_profile(c_dir: Path, out: dict, proba: np.ndarray, features: np.ndarray | None,
                  runs: np.ndarray) -> None:
    from tinyhar.export.c_runner import _input_lines, build_post_example

    missing = [t for t in ("gcc", "valgrind", "callgrind_annotate") if find_tool(t) is None]
    if missing:
        out["missing"].extend(missing_message(t) for t in missing)
        return
    with tempfile.TemporaryDirectory(prefix="tinyhar_post_cg_") as tmp:
        tmp = Path(tmp)
        exe = build_post_example(c_dir, tmp / "post_example", extra_flags=["-g"])
        cg = tmp / "callgrind.out"
        _run([find_tool("valgrind"), "--tool=callgrind", f"--callgrind-out-file={cg}",
              str(exe)], stdin=_input_lines(proba, features, runs))
        text = _run([find_tool("callgrind_annotate"), "--inclusive=yes", "--threshold=100",
                     str(cg)]).stdout
    inclusive = _parse_inclusive(text)
    total = inclusive.get("tinyhar_post_push", 0) + inclusive.get("tinyhar_post_flush", 0)
    n = max(1, len(proba))
    out["instructions_per_window"] = round(total / n) if total else None
    out["n_windows_profiled"] = len(proba)
    out["host"] = "x86-64, gcc -O2 (" + _run(["gcc", "-dumpfullversion"]).stdout.strip() + ")"
