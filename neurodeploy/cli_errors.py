"""The command line's error contract: bad input (a NeurodeployError, an unreadable or unwritable
file, memory exhausted by the input's size, a bad option) is one line on stderr and exit code 2;
anything else is an internal error, one line and exit code 1; `--debug` or NEURODEPLOY_DEBUG=1
adds the traceback."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps

import click

DEBUG_VARIABLE = "NEURODEPLOY_DEBUG"


def debug_requested() -> bool:
    """True under `neurodeploy --debug` or with NEURODEPLOY_DEBUG set (to anything but 0/false)."""
    context = click.get_current_context(silent=True)
    if context is not None and context.find_root().params.get("debug"):
        return True
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in ("", "0", "false", "no", "off")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _exit(message: str, code: int) -> None:
    if debug_requested():
        click.echo(traceback.format_exc().rstrip(), err=True)
    click.echo(message, err=True)
    sys.exit(code)


def friendly_errors(command: Callable) -> Callable:
    """Apply the error contract to a command: bad input -> one line and exit 2, anything
    unexpected -> one line and exit 1; the traceback only when debugging."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        from neurodeploy.errors import NeurodeployError, describe_os_error

        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # usage errors keep click's own message and exit code
        except NeurodeployError as exc:
            _exit(f"error: {_first_line(exc)}", 2)
        except OSError as exc:  # unreadable input, unwritable output, disk full
            _exit(f"error: {describe_os_error(exc)}", 2)
        except MemoryError:
            _exit("error: out of memory for this input; use fewer samples or time steps", 2)
        except Exception as exc:
            hint = "" if debug_requested() else (f" (rerun with --debug or {DEBUG_VARIABLE}=1 for "
                                                 "the traceback)")
            _exit(f"internal error: {type(exc).__name__}: {_first_line(exc)}{hint}", 1)

    return wrapper


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)
