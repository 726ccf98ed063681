"""The sandbox of a participant's process: it sees its case's inputs and nothing of the answers.

A challenge runs the participants' pipelines on the test cases without letting them see the
reference (MS-SEG 2016 ran each team's container on the organizers' platform, Commowick et al.,
Sci Rep 8:13650, 2018). A ``command`` method of the registry is run here per case:

- its declared inputs are copied, file by file, into a fresh private folder ``in/`` next to an
  empty ``out/`` (:func:`stage_inputs`); the command's placeholders name them as seen inside
  (``/in/flair.nii.gz``, ``/out/mask.nii.gz``);
- the process runs in bubblewrap (:func:`bwrap_argv`: new user, mount, PID, network, IPC, UTS
  and cgroup namespaces; read-only system folders, ``/in`` read-only, ``/out`` writable, a
  private ``/tmp``, no network, a clean environment), in Apptainer (:func:`apptainer_argv`,
  for a ``container``) or in podman (:func:`podman_argv`, for an ``image``);
- its runtime and memory are watched and the whole process tree is killed at a limit
  (:func:`run_limited`); its stdout and stderr are kept (the last :data:`LOG_TAIL_BYTES` of
  each) for the job's log;
- only the expected results (``mask.nii.gz``, ``probability.nii.gz``), regular files and not
  links, are taken from ``out/`` (:func:`collect_outputs`); the private folder is deleted.

``sandbox: none`` runs the command as the workflow's own user with everything it can reach
(unsafe: it can read the rater masks and the consensus); the limits still apply.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import InputError

#: Where the inputs and the output folder appear inside the sandbox.
INPUT_DIR = "/in"
OUTPUT_DIR = "/out"
#: The files a command may hand back (in its output folder); nothing else leaves the sandbox.
OUTPUT_FILES: dict[str, str] = {"output": "mask.nii.gz", "probability": "probability.nii.gz"}
#: How much of a command's stdout and of its stderr is kept for the log (the end of each).
LOG_TAIL_BYTES = 1 << 20
#: How often (seconds) the watchdog looks at the process tree's runtime and memory.
POLL_S = 0.1
#: The user and group the command runs as inside bubblewrap (``nobody``).
SANDBOX_ID = 65534
#: System folders bound read-only into bubblewrap (or recreated as the links they are).
SYSTEM_PATHS: tuple[str, ...] = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
#: Files and folders of /etc hidden inside bubblewrap (password hashes, host keys).
ETC_SECRETS: tuple[str, ...] = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/ssh")

INSTALL_HINTS: dict[str, str] = {
    "bwrap": "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)",
    "apptainer": "install Apptainer (https://apptainer.org/docs/admin/main/installation.html)",
    "podman": "install podman (Debian/Ubuntu: apt-get install podman)",
}


class SandboxError(InputError):
    """The sandbox could not be set up (tool missing, env not found, input not a file)."""

    kind = "sandbox"


@dataclass(frozen=True)
class Staging:
    """The private folder of one run: ``in/`` (read-only inside) and ``out/`` (writable)."""

    root: Path

    @property
    def inputs(self) -> Path:
        return self.root / "in"

    @property
    def outputs(self) -> Path:
        return self.root / "out"


def find_tool(tool: str) -> str:
    """The executable of sandbox ``tool`` (bwrap, apptainer, podman), or a :class:`SandboxError`
    naming it and how to install it."""
    names = {"bwrap": ("bwrap",), "apptainer": ("apptainer", "singularity"), "podman": ("podman",)}[tool]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise SandboxError(
        f"sandbox {tool} is not installed: {INSTALL_HINTS[tool]}, or set sandbox: none for this method "
        "(UNSAFE: its command can then read the answers)"
    )


def _suffix(path: Path) -> str:
    name = path.name
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix


def stage_inputs(root: str | Path, images: Mapping[str, str | Path], *, case: str) -> tuple[Staging, dict[str, str]]:
    """A fresh ``root`` with the ``images`` (placeholder -> file) copied into ``in/`` as
    ``<placeholder><suffix>`` and an empty ``out/``; returns the staging and each placeholder's
    path inside the sandbox. Copies, not links: nothing inside can reach the originals."""
    staging = Staging(Path(root))
    shutil.rmtree(staging.root, ignore_errors=True)
    staging.root.mkdir(parents=True, mode=0o700)
    staging.inputs.mkdir()
    staging.outputs.mkdir()
    inside: dict[str, str] = {}
    for name, source in images.items():
        source = Path(source)
        if not source.is_file():
            raise SandboxError("input of the command is not a file", case=case, path=source)
        target = f"{name}{_suffix(source)}"
        shutil.copyfile(source, staging.inputs / target)
        inside[name] = f"{INPUT_DIR}/{target}"
    return staging, inside


def _under(path: Path, parents: Iterable[str]) -> bool:
    return any(path == Path(p) or Path(p) in path.parents for p in parents)


def bwrap_argv(
    command: str,
    staging: Staging,
    *,
    bwrap: str = "bwrap",
    env_prefix: str | Path = "",
    threads: int = 1,
    tmp_mb: int = 1024,
    gpu: bool = False,
    hide: Sequence[str | Path] = (),
) -> list[str]:
    """The bubblewrap argv that runs ``bash -c command`` with only the system, ``env_prefix``
    (a conda env or tool folder, read-only at its own path), ``/in`` and ``/out``.

    Every namespace is new (``--unshare-all`` with a mandatory user namespace), so there is no
    network but an unconnected loopback and the PID namespace dies with its first process;
    ``hide`` (the workflow's folder, the home folder) are covered with empty tmpfs where they lie
    inside a bound system folder.
    """
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
    argv += ["--uid", str(SANDBOX_ID), "--gid", str(SANDBOX_ID), "--hostname", "sandbox", "--cap-drop", "ALL"]
    for system in SYSTEM_PATHS:
        path = Path(system)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), system]
        elif path.is_dir():
            argv += ["--ro-bind", system, system]
    for secret in ETC_SECRETS:
        if Path(secret).is_dir():
            argv += ["--tmpfs", secret]
        elif Path(secret).exists():
            argv += ["--ro-bind", "/dev/null", secret]
    for hidden in hide:
        resolved = Path(hidden).resolve()
        if resolved.is_dir() and _under(resolved, SYSTEM_PATHS):
            argv += ["--tmpfs", str(resolved)]
    path_dirs = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    env = _sandbox_env(threads)
    argv += [
        "--ro-bind",
        str(staging.inputs.resolve()),
        INPUT_DIR,
        "--bind",
        str(staging.outputs.resolve()),
        OUTPUT_DIR,
    ]
    argv += ["--size", str(tmp_mb * 1024 * 1024), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
    if env_prefix:  # after /tmp's tmpfs, which would cover an env kept under /tmp
        prefix = str(Path(env_prefix).resolve())
        argv += ["--ro-bind", prefix, prefix]
        path_dirs.insert(0, f"{prefix}/bin")
        env["CONDA_PREFIX"] = prefix
    env["PATH"] = ":".join(path_dirs)
    if gpu:
        for device in sorted(Path("/dev").glob("nvidia*")):
            argv += ["--dev-bind", str(device), str(device)]
        argv += ["--ro-bind", "/sys", "/sys"]
        if "CUDA_VISIBLE_DEVICES" in os.environ:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    argv += ["--chdir", OUTPUT_DIR, "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return [*argv, "--", "bash", "-c", command]


def _sandbox_env(threads: int) -> dict[str, str]:
    """The whole environment of a sandboxed command (no variable of the workflow's leaks in)."""
    env = {"HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        env[key] = str(threads)
    return env


def apptainer_argv(
    command: str, staging: Staging, image: str, *, apptainer: str = "apptainer", threads: int = 1, gpu: bool = False
) -> list[str]:
    """The ``apptainer exec`` argv: contained (no home, no working folder, no system bind
    paths, private /tmp, IPC and PID), clean environment, no network, ``/in`` read-only and
    ``/out`` writable."""
    argv = [apptainer, "exec", "--contain", "--cleanenv", "--ipc", "--pid", "--no-home", "--no-mount", "cwd,bind-paths"]
    argv += ["--net", "--network", "none"]
    argv += ["--bind", f"{staging.inputs.resolve()}:{INPUT_DIR}:ro,{staging.outputs.resolve()}:{OUTPUT_DIR}"]
    argv += ["--pwd", OUTPUT_DIR]
    for key, value in _sandbox_env(threads).items():
        argv += ["--env", f"{key}={value}"]
    if gpu:
        argv.append("--nv")
    return [*argv, image, "bash", "-c", command]


def podman_argv(
    command: str,
    staging: Staging,
    image: str,
    *,
    name: str,
    podman: str = "podman",
    threads: int = 1,
    mem_mb: int = 2000,
    runtime_s: float = 1800,
    gpu: bool = False,
) -> list[str]:
    """The ``podman run`` argv: no network, read-only image, no capabilities, ``/in`` read-only,
    ``/out`` writable, a private /tmp, memory and runtime limits of its own (its processes are
    the container runtime's children, not this job's: :func:`podman_cleanup` removes it)."""
    argv = [podman, "run", "--rm", "--name", name, "--network", "none", "--read-only", "--cap-drop", "all"]
    argv += ["--security-opt", "no-new-privileges", "--memory", f"{mem_mb}m", "--timeout", str(max(1, int(runtime_s)))]
    argv += ["-v", f"{staging.inputs.resolve()}:{INPUT_DIR}:ro", "-v", f"{staging.outputs.resolve()}:{OUTPUT_DIR}"]
    argv += ["--tmpfs", "/tmp", "-w", OUTPUT_DIR]
    for key, value in _sandbox_env(threads).items():
        argv += ["-e", f"{key}={value}"]
    if gpu:
        argv += ["--device", "nvidia.com/gpu=all"]
    return [*argv, "--entrypoint", "bash", image, "-c", command]


def podman_cleanup(name: str, *, podman: str = "podman") -> list[str]:
    """The argv that removes a podman container however it ended."""
    return [podman, "rm", "--force", "--ignore", name]


def podman_name(method: str, case: str) -> str:
    return f"lesionbench-{method}-{case}-{uuid.uuid4().hex[:8]}".lower()


def conda_prefix(conda_env: str, *, case: str | None = None) -> Path:
    """The folder of ``conda_env``: a path as it is, a name looked up with ``conda env list``."""
    if "/" in conda_env:
        prefix = Path(conda_env).resolve()
        if not prefix.is_dir():
            raise SandboxError(f"conda_env {conda_env!r} is not a folder", case=case)
        return prefix
    conda = os.environ.get("CONDA_EXE") or shutil.which("conda") or shutil.which("mamba")
    if not conda:
        raise SandboxError(f"conda_env {conda_env!r}: conda is not on PATH to find it; give the env's path", case=case)
    listing = subprocess.run([conda, "env", "list", "--json"], capture_output=True, text=True, timeout=120)
    envs = [Path(p) for p in json.loads(listing.stdout or "{}").get("envs", [])] if listing.returncode == 0 else []
    for prefix in envs:
        if prefix.name == conda_env or (conda_env == "base" and (prefix / "conda-meta" / "history").exists()):
            return prefix
    raise SandboxError(f"conda_env {conda_env!r} is not one of conda's envs; give the env's path", case=case)


# ---------------------------------------------------------------------------------------------
# limits


@dataclass
class LimitedRun:
    """How a process ran under :func:`run_limited`."""

    returncode: int
    seconds: float
    stdout: str
    stderr: str
    killed: str = ""
    peak_mb: float = 0.0
    argv: list[str] = field(default_factory=list)


class _Tail(threading.Thread):
    """Reads a stream to its end, keeping its last ``limit`` bytes."""

    def __init__(self, stream: IO[bytes], limit: int):
        super().__init__(daemon=True)
        self.stream, self.limit = stream, limit
        self.data = bytearray()
        self.dropped = 0

    def run(self) -> None:
        for chunk in iter(lambda: os.read(self.stream.fileno(), 65536), b""):
            self.data += chunk
            if len(self.data) > self.limit:
                extra = len(self.data) - self.limit
                self.dropped += extra
                del self.data[:extra]

    def text(self) -> str:
        head = f"[... {self.dropped} earlier bytes dropped]\n" if self.dropped else ""
        return head + self.data.decode("utf-8", errors="replace")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += tree.get(current, [])
    return found


def resident_mb(pids: Iterable[int]) -> float:
    """The summed resident memory (MB) of ``pids`` (shared pages count once per process, so
    this errs on the high side)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total / 2**20


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``, every descendant and its process group (the session it leads)."""
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            os.kill(member, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def _hide_bwrap_options(argv: list[str]) -> tuple[list[str], tuple[int, ...]]:
    """bubblewrap reads its options from a pipe (``--args FD``) rather than its command line,
    which its first process inside shows in /proc/1/cmdline: the host's folder names stay out."""
    if not argv or Path(argv[0]).name != "bwrap" or "--" not in argv:
        return argv, ()
    cut = argv.index("--")
    read, write = os.pipe()
    payload = b"".join(a.encode() + b"\0" for a in argv[1:cut])
    if len(payload) > 60000:  # a pipe holds 64 KiB before a write blocks
        os.close(read)
        os.close(write)
        return argv, ()
    os.write(write, payload)
    os.close(write)
    return [argv[0], "--args", str(read), *argv[cut:]], (read,)


def run_limited(
    argv: Sequence[str],
    *,
    runtime_s: float | None = None,
    mem_mb: float | None = None,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    cleanup: Sequence[str] = (),
) -> LimitedRun:
    """Run ``argv`` in a new session with a runtime and a memory limit on its whole process tree.

    Memory is watched, not capped by the kernel: every :data:`POLL_S` the resident memory of the
    tree (from /proc) is summed and the tree is killed past ``mem_mb``. cgroups would cap it
    exactly, but creating one needs systemd's user manager or a delegated cgroup v2 tree, which
    containers, CI runners and many clusters' nodes do not give; an address-space limit
    (RLIMIT_AS) counts reserved, not used, memory and breaks CUDA, Java and Go tools, and is per
    process, not per tree. A process that allocates faster than the watchdog looks may pass the
    limit for up to one interval. After the process ends, what is left of its tree and session
    is killed too, and ``cleanup`` (e.g. :func:`podman_cleanup`) is run.
    """
    start = time.monotonic()
    argv, pass_fds = _hide_bwrap_options(list(argv))
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=True,
            pass_fds=pass_fds,
        )
    finally:
        for fd in pass_fds:
            os.close(fd)
    assert proc.stdout is not None and proc.stderr is not None
    tails = [_Tail(proc.stdout, LOG_TAIL_BYTES), _Tail(proc.stderr, LOG_TAIL_BYTES)]
    for tail in tails:
        tail.start()
    killed, peak = "", 0.0
    while True:
        try:
            proc.wait(timeout=POLL_S)
            break
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - start
        if runtime_s is not None and elapsed > runtime_s:
            limit = f"{runtime_s / 60:g} min" if runtime_s % 60 == 0 else f"{runtime_s:g} s"
            killed = f"killed after {elapsed:.0f} s: runtime limit of {limit}"
            break
        if mem_mb is not None:
            used = resident_mb(process_tree(proc.pid))
            peak = max(peak, used)
            if used > mem_mb:
                killed = f"killed: memory limit of {mem_mb:g} MB exceeded ({used:.0f} MB resident)"
                break
    kill_tree(proc.pid)
    returncode = proc.wait()
    if cleanup:
        subprocess.run(list(cleanup), capture_output=True, timeout=120, check=False)
    deadline = time.monotonic() + 5  # a process that left the session may still hold the pipes
    for tail in tails:
        tail.join(timeout=max(0.0, deadline - time.monotonic()))
    return LimitedRun(
        returncode=returncode,
        seconds=time.monotonic() - start,
        stdout=tails[0].text(),
        stderr=tails[1].text(),
        killed=killed,
        peak_mb=peak,
        argv=list(argv),
    )


# ---------------------------------------------------------------------------------------------
# results


def collect_outputs(staging: Staging, *, case: str) -> dict[str, Path]:
    """The expected results in ``out/`` (:data:`OUTPUT_FILES`): each must be a regular file, not
    a link (which would make the job read what the link points at outside the sandbox)."""
    found: dict[str, Path] = {}
    for key, name in OUTPUT_FILES.items():
        path = staging.outputs / name
        if not os.path.lexists(path):
            continue
        if path.is_symlink() or not path.is_file():
            raise SandboxError("the command's result is a link or not a regular file; refused", case=case, path=name)
        found[key] = path
    return found
