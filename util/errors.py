"""The errors a user causes, and how every entry point ends on them (`exit_code`): one line on standard
error; any other exception is a bug and shows its traceback."""
import sys

EXIT_USAGE = 2  # a user mistake: bad option, bad input file, a folder that cannot be written
EXIT_OOM = 3  # out of memory
EXIT_INTERRUPTED = 130  # Ctrl-C or a scheduler's stop signal; a training run is resumable (128 + SIGINT)


class UserError(Exception):
    """A problem with the user's input or options."""


class InputError(UserError):
    """An input file or folder that cannot be used: missing, unreadable, of the wrong kind."""


class OptionError(UserError):
    """An option value, experiment id or parameter set that does not exist or cannot work."""


def is_out_of_memory(e):
    """Out of memory on any device: CUDA's OutOfMemoryError, or the CPU allocator's failure, which
    PyTorch raises as a plain RuntimeError (and numpy as MemoryError)."""
    torch = sys.modules.get("torch")  # without torch loaded no error can be its out of memory
    cpu = ("DefaultCPUAllocator: can't allocate memory", "DefaultCPUAllocator: not enough memory")
    return isinstance(e, MemoryError) or torch is not None and (
        isinstance(e, torch.OutOfMemoryError) or isinstance(e, RuntimeError) and any(m in str(e) for m in cpu))


def exit_code_for(e, out_of_memory="error: out of memory", interrupted="interrupted"):
    """Exit code 2, 3 or 130 after one line on standard error (`out_of_memory` and `interrupted` are
    those lines, or callables making them); None for a bug, to be raised again with its traceback."""
    if isinstance(e, UserError):
        line, code = f"error: {e}", EXIT_USAGE
    elif isinstance(e, OSError):  # a save_dir under a regular file, no permission, a full disk ...
        line, code = f"error: {f'{e.filename}: ' if e.filename else ''}{e.strerror or e}", EXIT_USAGE
    elif isinstance(e, (RuntimeError, MemoryError)) and is_out_of_memory(e):
        line, code = out_of_memory, EXIT_OOM
    elif isinstance(e, KeyboardInterrupt):
        line, code = interrupted, EXIT_INTERRUPTED
    else:
        return None
    print(line() if callable(line) else line, file=sys.stderr)
    return code


def exit_code(body, failed=None, **lines):
    """`body()`'s exit code, or exit_code_for the exception it stops on; `failed(reason)` is told of a
    user's mistake or an out of memory (main.py marks its run folder failed)."""
    try:
        return body()
    except (Exception, KeyboardInterrupt) as e:
        code = exit_code_for(e, **lines)
        if code is None:
            raise
        if failed is not None and (isinstance(e, UserError) or code == EXIT_OOM):
            failed("out of memory" if code == EXIT_OOM else str(e))
        return code
