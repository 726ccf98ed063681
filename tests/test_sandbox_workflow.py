"""A dishonest participant's command in a real run on the `tiny` cohort gains nothing in its sandbox.

The command (a stdlib-only Python tool, run by the system's python3: nothing of this venv is
visible in the sandbox) reads the cohort sheets by relative and absolute paths, walks the file
system from its working folder, its inputs' folders and the workflow's folder for rater,
consensus and truth masks, hands in the majority of whatever it finds (an empty mask if nothing),
writes files next to its inputs, into results/ and into /tmp, and connects to a TCP server this
test runs on 127.0.0.1. Sandboxed (bubblewrap), its metrics equal those of a command that writes
an empty mask, no stray file appears and the server sees no connection; the same command with
``sandbox: none`` (the control) does reach the answers, the files and the server, so the attack
is real. An honest FLAIR threshold runs in the same workflow and scores ``ok``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (make setup installs it)"),
    pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="the tools run by the system's /usr/bin/python3"),
]

NIFTI = '''
import gzip, struct


def read(path):
    """(header bytes, voxel values) of a little-endian NIfTI-1 file, stdlib only."""
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    nx, ny, nz = struct.unpack("<3h", raw[42:48])
    code = struct.unpack("<h", raw[70:72])[0]
    offset = int(struct.unpack("<f", raw[108:112])[0])
    slope, inter = struct.unpack("<ff", raw[112:120])
    fmt = {2: "B", 4: "h", 8: "i", 16: "f", 64: "d", 256: "b", 512: "H", 768: "I"}[code]
    n = nx * ny * nz
    values = struct.unpack("<%d%s" % (n, fmt), raw[offset : offset + n * struct.calcsize(fmt)])
    if slope not in (0.0, 1.0) or inter:
        values = tuple(v * slope + inter for v in values)
    return raw[:348], values


def write(path, header, mask):
    """``mask`` (0/1 per voxel) as uint8 on the grid of ``header``."""
    h = bytearray(header) + bytes(4)
    h[70:74] = struct.pack("<hh", 2, 8)
    h[108:120] = struct.pack("<fff", 352.0, 1.0, 0.0)
    gzip.open(path, "wb").write(bytes(h) + bytes(bytearray(mask)))
'''

HONEST = """
import sys
flair, output = sys.argv[1:3]
header, values = read(flair)
positive = sorted(v for v in values if v > 0)
cut = positive[int(0.99 * (len(positive) - 1))]
write(output, header, [1 if v > cut else 0 for v in values])
"""

EMPTY = """
import sys
header, values = read(sys.argv[1])
write(sys.argv[2], header, [0] * len(values))
"""

CHEAT = """
import glob, os, socket, sys, time
flair, output, tag, port, work = sys.argv[1:6]
header, values = read(flair)
n = len(values)
seen, masks = set(), []

def take(path):
    real = os.path.realpath(path)
    if real in seen or real.startswith(os.path.realpath("/in")):
        return
    seen.add(real)
    try:
        _, v = read(path)
    except Exception:
        return
    if len(v) == n and set(v) <= {0, 1, 0.0, 1.0}:
        masks.append(v)

# the cohort sheets, by relative and absolute paths, and every image they list
for sheet in ["results/cohort/cases.tsv", "../results/cohort/cases.tsv", *glob.glob(work + "/results/cohort/*.tsv")]:
    try:
        text = open(sheet).read()
    except OSError:
        continue
    for field in text.replace("\\t", "\\n").splitlines():
        if field.endswith((".nii", ".nii.gz")):
            take(field if field.startswith("/") else os.path.join(work, field))

# walk from the working folder, the inputs' folders and their parents, the workflow's folder, /
starts = [os.getcwd(), os.path.dirname(flair), os.path.dirname(os.path.dirname(flair)), work, "/"]
words = ("rater", "manual", "consensus", "truth", "lesion", "mask", "label")
budget = [400000]
for start in starts:
    for root, dirs, files in os.walk(start):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
        budget[0] -= len(files) + 1
        if budget[0] < 0:
            break
        for name in files:
            if name.endswith((".nii", ".nii.gz")) and any(w in name.lower() for w in words):
                take(os.path.join(root, name))

# writes outside its output folder
for folder in (os.path.dirname(flair), work + "/results", work, "/tmp"):
    try:
        open(os.path.join(folder, "stray-" + tag + ".txt"), "w").write("x")
    except OSError:
        pass
# the network
try:
    with socket.create_connection(("127.0.0.1", int(port)), timeout=3) as s:
        s.sendall(tag.encode())
except OSError:
    pass

votes = [sum(m[i] for m in masks) for i in range(n)] if masks else [0] * n
print("found", len(masks), "masks")
write(output, header, [1 if 2 * v > len(masks) else 0 for v in votes])
"""


class Listener(threading.Thread):
    """A TCP server on 127.0.0.1 that records what each connection sends."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[str] = []

    def run(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    self.received.append(connection.recv(100).decode())
                except OSError:
                    self.received.append("?")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sandbox_run")
    work, tools = tmp / "run", tmp / "tools"
    (tools / "bin").mkdir(parents=True)
    work.mkdir()
    for name, body in (("honest", HONEST), ("empty", EMPTY), ("cheat", CHEAT)):
        (tools / "bin" / f"{name}.py").write_text(NIFTI + body)
    listener = Listener()
    listener.start()
    python = "/usr/bin/python3"

    def cheat(tag: str) -> str:
        return f"{python} {tools}/bin/cheat.py {{flair}} {{output}} {tag} {listener.port} {work}"

    command = {"kind": "command", "inputs": ["nyul/flair"], "resources": {"runtime": 10, "mem_mb": 1000}}
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    config["on_failure"] = {"methods": "flag"}
    config["methods"] = [
        {"name": "honest", "command": f"{python} {tools}/bin/honest.py {{flair}} {{output}}", "conda_env": str(tools)},
        {"name": "empty", "command": f"{python} {tools}/bin/empty.py {{flair}} {{output}}", "conda_env": str(tools)},
        {"name": "cheat", "command": cheat("sandboxed"), "conda_env": str(tools)},
        {"name": "cheat_unsafe", "command": cheat("unsandboxed"), "sandbox": "none"},
    ]
    for entry in config["methods"]:
        entry.update(command)
    config_file = tmp / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    tmp_before = set(Path("/tmp").glob("stray-*"))
    cmd = SNAKEMAKE + ["--directory", str(work), "--configfile", str(REPO / "config/config.yaml"), str(config_file)]
    done = subprocess.run([*cmd, "--cores", "2"], capture_output=True, text=True, cwd=work, timeout=1500)
    listener.server.close()
    assert done.returncode == 0, done.stderr[-5000:]
    yield {"work": work, "listener": listener, "tmp_new": set(Path("/tmp").glob("stray-*")) - tmp_before}
    for stray in set(Path("/tmp").glob("stray-*")) - tmp_before:
        stray.unlink()


def test_dishonest_command_gains_nothing_and_leaves_nothing(run):
    work = run["work"]
    status = pd.read_csv(work / "results/methods/status.tsv", sep="\t").set_index(["method", "case_id"])
    for method in ("honest", "empty", "cheat", "cheat_unsafe"):
        assert set(status.loc[method, "status"]) == {"ok"}, status.loc[method]
    metrics = pd.read_csv(work / "results/metrics/metrics.tsv", sep="\t", dtype={"case_id": str})
    keys = ["case_id", "reference", "metric"]

    def rows(entry: str) -> pd.DataFrame:
        table = metrics[metrics["entry"] == entry].set_index(keys).sort_index()
        return table.drop(columns=[c for c in ("entry", "entry_kind", "seconds") if c in table])

    assert len(rows("cheat")) > 0
    pd.testing.assert_frame_equal(rows("cheat"), rows("empty"))
    dice = metrics[metrics["metric"] == "dice"].pivot_table(
        index=["case_id", "reference"], columns="entry", values="value"
    )
    dice = dice[["honest", "empty", "cheat", "cheat_unsafe"]].dropna()
    assert len(dice) > 0 and (dice["honest"] > dice["empty"]).all(), dice
    # the control: unsandboxed, the same command reads the answers (and beats the honest method)
    assert (dice["cheat_unsafe"] > dice["honest"]).all() and (dice["cheat_unsafe"] > 0.8).any(), dice
    # nothing written outside its output folder, no connection, by the sandboxed command
    strays = sorted(p.relative_to(work) for p in work.rglob("stray-*"))
    assert all("unsandboxed" in p.name for p in strays) and strays, strays
    assert all("unsandboxed" in p.name for p in run["tmp_new"])
    assert "sandboxed" not in run["listener"].received and "unsandboxed" in run["listener"].received
    # the command's output is in the job's log; its private folder is gone
    logs = sorted((work / "logs/infer_method/cheat").glob("*.log"))
    assert logs and all("found 0 masks" in log.read_text() for log in logs), logs
    assert not list((work / "results/predictions").rglob(".*.sandbox"))
