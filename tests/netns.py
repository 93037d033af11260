"""A second machine on this one, for tests (importable as ``tests.netns``).

A :class:`Machine` is a Linux network namespace joined to this machine by a
veth pair with private addresses (``10.213.A.B/30``: this machine ``.B+1``,
the other ``.B+2``; no default route, so its traffic stays on this machine),
and its processes get their own host name (a UTS namespace) and their own
``/tmp`` (a mount namespace with a tmpfs there); the folders given as
``shared`` stay visible at the same paths (bind mounts: the shared storage of
a cluster). One physical machine: the kernel, CPUs and memory are shared.

Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and ``ip`` (iproute2) and
``unshare`` (util-linux); :func:`machine_or_skip` skips with the reason when
they are missing or the namespace cannot be made (e.g. a container without
CAP_NET_ADMIN).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

_SUBNETS = 16384
"""``/30`` subnets in 10.213.0.0/16 to choose from."""

_made = itertools.count()

# Run inside the namespace (bash -c): open each shared folder, put a tmpfs on /tmp (in a
# mount namespace of its own, made private so that nothing leaks back), bind each folder
# back at its path (parents first; -c: /proc/self/fd/N as it is, not its path resolved
# again under the new /tmp), stay in the working folder if the machine has it (else /: a
# process's folder that the machine does not have fails Python's multiprocessing), set the
# host name, forget this machine's TMPDIR (another machine's temporary files go to its own
# /tmp, not to a folder of this one that the environment names), then become the command.
_ENTER = r"""
set -e
name=$1; n=$2; shift 2
fds=()
for ((i = 0; i < n; i++)); do exec {fd}<"$1"; fds+=("$fd:$1"); shift; done
mount --make-rprivate /
mount -t tmpfs tmpfs /tmp
for entry in "${fds[@]}"; do
  fd=${entry%%:*}; folder=${entry#*:}
  mkdir -p "$folder"
  mount -c --bind "/proc/self/fd/$fd" "$folder"
  exec {fd}<&-
done
cd "$PWD" 2>/dev/null || cd /
echo "$name" > /proc/sys/kernel/hostname
unset TMPDIR TEMP TMP
exec "$@"
"""


class MachineError(RuntimeError):
    """The namespace could not be made (no permission, a tool missing)."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise MachineError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


class Machine:
    """A network namespace standing in for a second machine (see the module's docstring).

    Parameters
    ----------
    shared : sequence of Path
        Folders the machine's processes see at the same paths (existing folders).

    Attributes
    ----------
    name : str
        The namespace's name, also the host name of its processes.
    address, host_address : str
        Its IPv4 address, and this machine's address on the link between them.

    Raises
    ------
    MachineError
        If a step fails (what was made is removed again).
    """

    def __init__(self, shared: Sequence[Path] = ()) -> None:
        n = next(_made)
        pid = os.getpid()
        self.name, self._host_link, self._link = (f"th{pid}{k}{n}" for k in "mhn")
        self.shared = sorted({str(Path(p).resolve()) for p in shared}, key=len)
        self._made = False
        try:
            _ip("netns", "add", self.name)
            self._made = True
            _ip("link", "add", self._host_link, "type", "veth", "peer", "name", self._link)
            _ip("link", "set", self._link, "netns", self.name)
            self.host_address, self.address = self._subnet(pid * 8 + n)
            _ip("addr", "add", f"{self.host_address}/30", "dev", self._host_link)
            _ip("link", "set", self._host_link, "up")
            _ip("-n", self.name, "addr", "add", f"{self.address}/30", "dev", self._link)
            _ip("-n", self.name, "link", "set", self._link, "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.remove()
            raise

    def _subnet(self, seed: int) -> tuple[str, str]:
        """This machine's and the namespace's address in a /30 no interface here uses."""
        for k in range(seed, seed + 64):
            k %= _SUBNETS
            base = f"10.213.{k // 64}.{k % 64 * 4}"
            used = subprocess.run(["ip", "-4", "-o", "addr", "show", "to", f"{base}/30"],
                                  capture_output=True, text=True, timeout=30)
            if used.returncode == 0 and not used.stdout.strip():
                prefix = base.rsplit(".", 1)[0]
                return f"{prefix}.{k % 64 * 4 + 1}", f"{prefix}.{k % 64 * 4 + 2}"
        raise MachineError("no free /30 subnet in 10.213.0.0/16")

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start ``argv`` on the machine (its network, host name and /tmp)."""
        return subprocess.Popen(
            ["ip", "netns", "exec", self.name, "unshare", "--uts", "--mount",
             "bash", "-c", _ENTER, "enter", self.name, str(len(self.shared)), *self.shared,
             *argv], **kwargs)

    def cut(self) -> None:
        """Take the machine's end of the link down: a network partition."""
        _ip("-n", self.name, "link", "set", "dev", self._link, "down")

    def pids(self) -> list[int]:
        """The processes running in the namespace."""
        done = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                              text=True, timeout=30)
        return [int(p) for p in done.stdout.split()] if done.returncode == 0 else []

    def remove(self) -> None:
        """Kill the machine's processes, delete the namespace and with it the link."""
        if not self._made:
            return
        deadline = time.monotonic() + 30
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", self._host_link], capture_output=True, timeout=30)
        self._made = False


def machine_or_skip(shared: Sequence[Path] = ()) -> Machine:
    """A :class:`Machine`, or skip the test with the reason it cannot be made."""
    if os.geteuid() != 0:
        pytest.skip("a network namespace needs root")
    for tool, package in (("ip", "iproute2"), ("unshare", "util-linux"), ("bash", "bash")):
        if shutil.which(tool) is None:
            pytest.skip(f"`{tool}` is not installed (Debian package {package})")
    try:
        return Machine(shared)
    except MachineError as exc:
        pytest.skip(f"cannot make a network namespace (no CAP_SYS_ADMIN, CAP_NET_ADMIN?): {exc}")
