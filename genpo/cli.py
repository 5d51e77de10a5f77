"""Bad input at the command line answered in one line: exit status 2, no traceback.

Every entry point wraps its *start* (config composition, checkpoint loading, the env spec and the env
construction before any training) in `user_errors()`, and runs the work itself outside it:

    if __name__ == "__main__":
        with user_errors():
            run = start(sys.argv[1:])   # a bad key, task, checkpoint... -> "error: <problem and fix>", exit 2
        run.train()                     # anything raised here keeps its traceback: a bug or a divergence

GENPO_DEBUG=1 in the environment turns the boundary off: the exception propagates with its traceback.

Which errors count as the user's
--------------------------------
An exception raised while starting is turned into one line only when it is

* a `genpo.config.ConfigError` (raised only for config files and overrides), or
* a `ValueError`, `FileNotFoundError` or `ImportError` raised **by a raise
  statement in this project's code** (genpo, finetune, pretrain, tools, lerobot_policy_genpo or the
  script itself): the innermost frame of its traceback belongs to one of those modules and stopped at
  a RAISE_VARARGS instruction.

The second rule is what keeps the boundary narrow. The project checks user input explicitly and raises
these types with a message that names the problem and the fix (unknown task ids, checkpoint/env
dimension mismatches, missing or corrupt checkpoint files, a missing optional extra). The same types
also come from bugs, and those must keep their traceback even while starting:

* a ValueError from a C function called in our code (`int("abc")`, a numpy reshape) or from a library
  (json, torch, omegaconf): the innermost frame is not a raise statement of ours;
* an ImportError from an `import` statement (a renamed module, a missing name during a refactor):
  the import system raises it at an IMPORT_NAME/IMPORT_FROM instruction, not at a raise statement;
* a FileNotFoundError from `open()` or pathlib on a path the code should have checked.

Other types (TypeError, KeyError, RuntimeError, AttributeError...) are never treated as user errors:
they are programming errors, and torch raises RuntimeError for anything. Errors after the start
(inside training) are outside the boundary altogether. The one case the rule gets wrong is an internal
check of ours that fails while starting (a ValueError raised by our code about our own state): it
prints its one line, and GENPO_DEBUG=1 shows where it came from.

Under `accelerate launch`
-------------------------
The launcher tees the child's stderr, so the line is printed; without `-q` (`--quiet`) accelerate then
raises its own CalledProcessError traceback, which repeats the child's stderr. `accelerate launch -q`
keeps only the child's output (a training error still shows the child's traceback). Either way the
launcher exits with status 1, not the child's 2 (accelerate 1.16 discards it). With several ranks each
prints its line, prefixed `[rank N]` (an error on one rank only is not lost), and torch's elastic agent
adds its failure summary.
"""

from __future__ import annotations

import contextlib
import dis
import os
import sys
from collections.abc import Iterator

from genpo.config import ConfigError

USAGE_ERROR = 2  # the exit status of a usage error (argparse, getopt, the shells)
DEBUG_VARIABLE = "GENPO_DEBUG"
PROJECT_PACKAGES = ("genpo", "finetune", "pretrain", "tools", "lerobot_policy_genpo", "__main__")
MESSAGE_TYPES = (ValueError, FileNotFoundError, ImportError)
_RAISE = dis.opmap["RAISE_VARARGS"]


def debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def raised_by_project(err: BaseException) -> bool:
    """True if a raise statement in this project's code raised `err` (not a library, a C call, an import)."""
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    if module.split(".")[0] not in PROJECT_PACKAGES:
        return False
    return tb.tb_frame.f_code.co_code[tb.tb_lasti] == _RAISE


def is_user_error(err: BaseException) -> bool:
    if isinstance(err, ConfigError):
        return True
    return isinstance(err, MESSAGE_TYPES) and raised_by_project(err)


def one_line(err: BaseException) -> str:
    """The message on one line (a multi-line message is joined; an empty one names the type)."""
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return text or type(err).__name__


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user error raised inside the block into `error: <message>` on stderr and exit status 2.

    Several ranks of one launch (accelerate, torchrun) each print their line, prefixed with the rank
    when there is more than one, so that an error on one rank only is not lost.
    """
    try:
        yield
    except Exception as err:
        if debugging() or not is_user_error(err):
            raise
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        rank = f"[rank {os.environ.get('RANK', '?')}] " if world > 1 else ""
        print(f"{rank}error: {one_line(err)}", file=sys.stderr, flush=True)
        raise SystemExit(USAGE_ERROR) from None
