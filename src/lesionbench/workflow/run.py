"""The wrapper of every workflow script: logging to the rule's log and one-line errors.

:func:`run_script` runs a script's step with stdout, stderr, logging and warnings sent to the
rule's ``log:`` file; a :class:`~lesionbench.errors.LesionbenchError` becomes one line (rule,
case, file, problem) on the console and in the log, with a non-zero exit, instead of a
traceback. It imports only the standard library.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import LesionbenchError


def _setup_logging(stream: Any) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)


def run_script(snakemake: Any, step: Callable[[Any], None]) -> None:
    """Run ``step(snakemake)`` with output sent to the rule's log and clear errors.

    A :class:`LesionbenchError` is written as one line to the log and to the console
    (``ERROR in rule R: case C, file F: problem``) and the script exits with status 1;
    anything else is a bug and keeps its traceback (in the log).
    """
    log_path = snakemake.log[0] if len(snakemake.log) else os.devnull
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    console = sys.__stderr__
    with open(log_path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        _setup_logging(log)
        try:
            step(snakemake)
        except LesionbenchError as exc:
            message = f"ERROR in rule {snakemake.rule}: {exc}"
            print(message, file=log)
            if console is not None:
                print(message, file=console)
            log.flush()
            sys.exit(1)
        except Exception:
            traceback.print_exc(file=log)
            raise
