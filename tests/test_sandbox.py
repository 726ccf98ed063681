"""The sandbox of participants' commands (lesionbench.methods.sandbox): what a command sees and
cannot see in bubblewrap, the limits that kill its whole process tree, the argv of apptainer and
podman (recorded by stand-in executables: neither tool is installed here), and the job that runs
one case and keeps nothing but the expected mask."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import write_nifti
from lesionbench.errors import ConfigError
from lesionbench.methods.jobs import run_command_case
from lesionbench.methods.participants import CommandError, prepare_command, run_command
from lesionbench.methods.registry import parse_method, resolved_sandbox
from lesionbench.methods.sandbox import (
    SandboxError,
    Staging,
    apptainer_argv,
    bwrap_argv,
    collect_outputs,
    find_tool,
    podman_argv,
    run_limited,
    stage_inputs,
)

BWRAP = shutil.which("bwrap")
needs_bwrap = pytest.mark.skipif(BWRAP is None, reason="bubblewrap is not installed (make setup installs it)")


def entry(**extra) -> dict:
    return {"name": "tool", "kind": "command", "inputs": ["nyul/flair"], "command": "true {output}", **extra}


def staged(tmp_path: Path) -> tuple[Staging, dict[str, str]]:
    flair = tmp_path / "data" / "flair.nii.gz"
    flair.parent.mkdir(exist_ok=True)
    flair.write_bytes(b"not really an image")
    return stage_inputs(tmp_path / "stage", {"flair": flair}, case="c1")


def sandboxed(tmp_path: Path, script: str, **kwargs) -> tuple[str, Staging]:
    staging, _ = staged(tmp_path)
    argv = bwrap_argv(script, staging, bwrap=BWRAP or "bwrap", hide=[tmp_path, Path.home()], **kwargs)
    done = run_limited(argv, runtime_s=60, mem_mb=1000)
    assert done.returncode == 0 and not done.killed, done.stderr
    return done.stdout, staging


# ---------------------------------------------------------------------------------------------
# registry


def test_sandbox_choice_and_bad_combinations():
    assert resolved_sandbox(parse_method(entry())) == "bwrap"
    assert resolved_sandbox(parse_method(entry(conda_env="/opt/envs/tool"))) == "bwrap"
    assert resolved_sandbox(parse_method(entry(container="/img/tool.sif"))) == "apptainer"
    assert resolved_sandbox(parse_method(entry(image="docker.io/team/tool:1.0"))) == "podman"
    assert resolved_sandbox(parse_method(entry(sandbox="none"))) == "none"
    for bad, message in (
        (entry(sandbox="docker"), "sandbox 'docker' is not one of"),
        (entry(sandbox="bwrap", image="team/tool"), "sandbox: bwrap runs a command or a conda_env"),
        (entry(sandbox="apptainer"), "sandbox: apptainer needs container"),
        (entry(sandbox="podman", container="/img/t.sif"), "sandbox: podman needs image"),
        (entry(sandbox="none", image="team/tool"), "sandbox: none cannot run it"),
        (entry(container="/img/t.sif", image="team/tool"), "at most one of conda_env, container and image"),
        ({"name": "s", "kind": "submission", "folder": "f", "sandbox": "none"}, "sandbox is for command methods"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_method(bad)


def test_missing_tool_names_it_and_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match=r"sandbox bwrap is not installed: install bubblewrap .*sandbox: none"):
        find_tool("bwrap")
    with pytest.raises(SandboxError, match="sandbox podman is not installed"):
        prepare_command(parse_method(entry(image="team/tool")), "c1", {}, tmp_path / "stage")


# ---------------------------------------------------------------------------------------------
# staging and results


def test_staging_copies_each_input_file_into_a_fresh_folder(tmp_path):
    staging, inside = staged(tmp_path)
    assert inside == {"flair": "/in/flair.nii.gz"}
    copy = staging.inputs / "flair.nii.gz"
    assert copy.read_bytes() == b"not really an image" and not copy.is_symlink()
    assert os.stat(copy).st_ino != os.stat(tmp_path / "data" / "flair.nii.gz").st_ino
    assert list(staging.outputs.iterdir()) == []
    assert stat.S_IMODE(staging.root.stat().st_mode) == 0o700
    with pytest.raises(SandboxError, match=r"case c1, file .*absent.nii.gz: input of the command is not a file"):
        stage_inputs(tmp_path / "stage", {"t1": tmp_path / "absent.nii.gz"}, case="c1")


def test_only_regular_result_files_are_collected(tmp_path):
    staging, _ = staged(tmp_path)
    (staging.outputs / "notes.txt").write_text("ignored")
    assert collect_outputs(staging, case="c1") == {}
    (staging.outputs / "mask.nii.gz").write_bytes(b"x")
    assert collect_outputs(staging, case="c1") == {"output": staging.outputs / "mask.nii.gz"}
    (staging.outputs / "probability.nii.gz").symlink_to(tmp_path / "data" / "flair.nii.gz")
    with pytest.raises(SandboxError, match=r"case c1, file probability.nii.gz: .* a link or not a regular file"):
        collect_outputs(staging, case="c1")


# ---------------------------------------------------------------------------------------------
# bubblewrap: what the command sees


@needs_bwrap
def test_bwrap_shows_inputs_read_only_and_nothing_of_the_host(tmp_path, monkeypatch):
    monkeypatch.setenv("LESIONBENCH_SECRET", "answer")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "consensus.nii.gz").write_text("truth")
    script = f"""
    cat /in/flair.nii.gz; echo
    {{ echo x > /in/new; }} 2>/dev/null && echo WROTE-IN
    {{ echo x > /in/flair.nii.gz; }} 2>/dev/null && echo WROTE-INPUT
    echo y > /out/result && echo wrote-out
    for p in {tmp_path} {tmp_path}/results {Path.home()} /work /root /home /tmp/*; do
        ls "$p" >/dev/null 2>&1 && echo "SEEN $p"
    done
    grep -q . /etc/shadow 2>/dev/null && echo SEEN-SHADOW
    env | grep -c LESIONBENCH_SECRET
    id -u; pwd; ls /proc | grep -c '^[0-9]'
    (exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null && echo CONNECTED
    true
    """
    out, staging = sandboxed(tmp_path, script)
    lines = out.splitlines()
    assert lines[0] == "not really an image"
    assert "wrote-out" in lines and (staging.outputs / "result").read_text() == "y\n"
    assert not any(line.startswith(("WROTE", "SEEN", "CONNECTED")) for line in lines), out
    secret_count, uid, cwd, n_processes = lines[2:6]
    assert (secret_count, uid, cwd) == ("0", "65534", "/out")
    assert int(n_processes) <= 4  # its own PID namespace: bwrap, bash and the pipeline
    # bubblewrap's options come through a pipe: the host's folder names are not on its command line
    out, _ = sandboxed(tmp_path, "tr '\\0' ' ' < /proc/1/cmdline")
    assert str(tmp_path) not in out and "--args" in out


@needs_bwrap
def test_bwrap_runs_system_software_and_a_tool_folder(tmp_path):
    tool = tmp_path / "env"
    (tool / "bin").mkdir(parents=True)
    (tool / "bin" / "segment").write_text("#!/bin/sh\necho segmenting with $CONDA_PREFIX\n")
    (tool / "bin" / "segment").chmod(0o755)
    out, _ = sandboxed(tmp_path, "segment; python3 -c 'print(6 * 7)'", env_prefix=tool)
    assert out.splitlines() == [f"segmenting with {tool.resolve()}", "42"]


# ---------------------------------------------------------------------------------------------
# limits


def test_runtime_limit_kills_the_whole_tree(tmp_path):
    marker = tmp_path / "child.pid"
    done = run_limited(["bash", "-c", f"sleep 600 & echo $! > {marker}; wait"], runtime_s=1, mem_mb=1000)
    assert done.killed.startswith("killed after") and "runtime limit of 1 s" in done.killed
    child = int(marker.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_memory_limit_kills_the_tree_of_a_command(tmp_path):
    grow = f"{sys.executable} -c \"x = b'x' * (400 * 2**20); import time; time.sleep(60)\""
    done = run_limited(["bash", "-c", f"sleep 600 & {grow}"], runtime_s=60, mem_mb=150)
    assert done.killed.startswith("killed: memory limit of 150 MB exceeded"), done
    assert done.seconds < 50


@needs_bwrap
def test_limits_hold_inside_bwrap_and_no_process_survives(tmp_path):
    staging, _ = staged(tmp_path)
    script = "(setsid sleep 600 &); python3 -c \"x = b'x' * (400 * 2**20); import time; time.sleep(60)\""
    done = run_limited(bwrap_argv(script, staging, bwrap=BWRAP or "bwrap"), runtime_s=60, mem_mb=150)
    assert done.killed.startswith("killed: memory limit of 150 MB exceeded"), done
    time.sleep(0.5)
    survivors = subprocess.run(["pgrep", "-f", "^sleep 600$"], capture_output=True, text=True).stdout.split()
    sandbox_uid = [p for p in survivors if Path(f"/proc/{p}").exists() and Path(f"/proc/{p}").stat().st_uid == 0]
    assert not [p for p in sandbox_uid if str(staging.root) in Path(f"/proc/{p}/environ").read_text(errors="ignore")]
    done = run_limited(bwrap_argv("sleep 600", staging, bwrap=BWRAP or "bwrap"), runtime_s=1)
    assert "runtime limit of 1 s" in done.killed


def test_run_command_logs_output_and_names_the_kill(tmp_path):
    log = (tmp_path / "job.log").open("w")
    with pytest.raises(CommandError, match=r"case c1: method m: command timed out, killed after \d+ s"):
        run_command(
            ["bash", "-c", "echo started; echo oops >&2; sleep 60"], case="c1", method="m", timeout_s=1, log=log
        )
    log.close()
    text = (tmp_path / "job.log").read_text()
    assert "started" in text and "oops" in text and "runtime limit of 1 s" in text


# ---------------------------------------------------------------------------------------------
# apptainer and podman: argv (the tools are absent here; stand-ins record what they are given)


def test_apptainer_and_podman_argv(tmp_path):
    staging, _ = staged(tmp_path)
    inputs, outputs = staging.inputs.resolve(), staging.outputs.resolve()
    argv = apptainer_argv("seg /in/flair.nii.gz", staging, "/img/tool.sif", threads=3)
    assert argv[:2] == ["apptainer", "exec"] and argv[-4:] == ["/img/tool.sif", "bash", "-c", "seg /in/flair.nii.gz"]
    for flag in ("--contain", "--cleanenv", "--no-home", "--ipc", "--pid"):
        assert flag in argv
    assert argv[argv.index("--network") + 1] == "none" and "--net" in argv
    assert argv[argv.index("--bind") + 1] == f"{inputs}:/in:ro,{outputs}:/out"
    assert argv[argv.index("--pwd") + 1] == "/out" and "OMP_NUM_THREADS=3" in argv
    argv = podman_argv("seg", staging, "team/tool:1", name="lb-x", mem_mb=3000, runtime_s=600)
    assert argv[:3] == ["podman", "run", "--rm"] and argv[-4:] == ["bash", "team/tool:1", "-c", "seg"]
    assert argv[argv.index("--network") + 1] == "none" and "--read-only" in argv
    assert f"{inputs}:/in:ro" in argv and f"{outputs}:/out" in argv
    assert argv[argv.index("--memory") + 1] == "3000m" and argv[argv.index("--timeout") + 1] == "600"


def stand_in(folder: Path, name: str) -> Path:
    """An executable ``name`` that appends its argv to ``name.json`` (one JSON list a line)."""
    folder.mkdir(exist_ok=True)
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, pathlib\n"
        f"with open({str(folder / (name + '.json'))!r}, 'a') as f: f.write(json.dumps(sys.argv) + '\\n')\n"
    )
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    ("tool", "extra"), [("apptainer", {"container": "/img/tool.sif"}), ("podman", {"image": "team/t"})]
)
def test_container_sandboxes_are_called_with_staged_paths(tmp_path, monkeypatch, tool, extra):
    bin_dir = tmp_path / "bin"
    stand_in(bin_dir, tool)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    flair = write_nifti(tmp_path / "flair.nii.gz", np.zeros((4, 4, 4), np.float32))
    spec = parse_method(entry(command="seg -i {flair} -o {output} -t {threads}", **extra))
    prepared = prepare_command(spec, "c1", {"flair": flair}, tmp_path / "stage", threads=2)
    done = run_command(prepared.argv, case="c1", method="tool", cleanup=prepared.cleanup)
    assert done.returncode == 0
    calls = [json.loads(line) for line in (bin_dir / f"{tool}.json").read_text().splitlines()]
    recorded = calls[0]
    assert recorded[-1] == "seg -i /in/flair.nii.gz -o /out/mask.nii.gz -t 2"
    assert (prepared.staging.inputs / "flair.nii.gz").is_file()
    if tool == "podman":  # the container is removed by name whatever happened
        assert calls[1][1:] == ["rm", "--force", "--ignore", recorded[recorded.index("--name") + 1]]
    else:
        assert len(calls) == 1


# ---------------------------------------------------------------------------------------------
# the job of one case


def job(tmp_path: Path, command: str, **extra) -> dict:
    flair = write_nifti(tmp_path / "data" / "flair.nii.gz", np.arange(64, dtype=np.float32).reshape(4, 4, 4))
    output = tmp_path / "predictions" / "tool" / "c1"
    run_command_case(entry(command=command, **extra), "c1", flair=flair, images={"flair": flair}, output=output)
    assert not (output.parent / ".c1.sandbox").exists()
    return json.loads((output / "status.json").read_text())


@needs_bwrap
def test_job_runs_in_bwrap_and_keeps_only_the_mask(tmp_path, capsys):
    # a stdlib-only tool: the mask is the FLAIR file's header with uint8 zeros (no nibabel inside)
    write_mask = (
        'python3 -c "import gzip, struct, sys; h = bytearray(gzip.open(sys.argv[1]).read()[:352]); '
        "h[70:74] = struct.pack('<hh', 2, 8); h[108:120] = struct.pack('<fff', 352, 1, 0); "
        "gzip.open(sys.argv[2], 'wb').write(bytes(h) + bytes(64))\" {flair} {output}; "
        "echo extra > {output_dir}/extra.txt; echo progress; echo warning >&2"
    )
    status = job(tmp_path, write_mask)
    assert status["status"] == "ok" and status["sandbox"] == "bwrap", status
    assert "/in/flair.nii.gz" in status["command"] and "/out/mask.nii.gz" in status["command"]
    folder = tmp_path / "predictions" / "tool" / "c1"
    assert sorted(p.name for p in folder.iterdir()) == ["mask.nii.gz", "status.json"]
    out = capsys.readouterr().out
    assert "progress" in out and "warning" in out


@needs_bwrap
def test_job_records_a_kill_a_missing_mask_and_a_linked_mask(tmp_path):
    grow = "python3 -c \"x = b'x' * (400 * 2**20); import time; time.sleep(60)\"; touch {output}"
    status = job(tmp_path / "a", grow, resources={"mem_mb": 150})
    assert status["status"] == "failed"
    assert status["error"].startswith("case c1: method tool: command killed: memory limit of 150 MB exceeded")
    status = job(tmp_path / "b", "echo nothing > {output_dir}/other.nii.gz # not {output}")
    assert status["status"] == "failed" and "exited 0 but wrote no mask" in status["error"]
    status = job(tmp_path / "c", "ln -s /in/flair.nii.gz {output}")
    assert status["status"] == "failed" and "a link or not a regular file" in status["error"]


def test_unsafe_none_runs_on_the_host_in_the_staging_folder(tmp_path):
    status = job(tmp_path, "cp {flair} {output}; test $(pwd) = {output_dir}", sandbox="none")
    # the command ran in its host folder (the test passed) and its copy of the FLAIR was checked
    assert status["status"] == "failed" and "mask is not binary" in status["error"], status
    assert ".c1.sandbox/out/mask.nii.gz" in status["error"]
