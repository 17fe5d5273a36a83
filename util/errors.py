"""The project's error types for mistakes a user makes, and how every entry point ends on them
(`exit_code`): one line on standard error and exit code 2 for a user's mistake or an OSError, 3 for
out of memory, 130 for an interrupt; any other exception is a bug and shows its traceback."""
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


def os_error_line(e):
    """One line for an OSError a user causes (a save_dir under a regular file, no permission, a full
    disk ...): the path, then the reason."""
    where = f"{e.filename}: " if e.filename else ""
    return f"error: {where}{e.strerror or e}"


def is_out_of_memory(e):
    """Out of memory on any device: CUDA's OutOfMemoryError, or the CPU allocator's failure, which
    PyTorch raises as a plain RuntimeError (and numpy as MemoryError)."""
    if isinstance(e, MemoryError):
        return True
    torch = sys.modules.get("torch")  # without torch loaded no error can be its out of memory
    if torch is None:
        return False
    if isinstance(e, torch.OutOfMemoryError):
        return True
    return isinstance(e, RuntimeError) and ("DefaultCPUAllocator: can't allocate memory" in str(e)
                                            or "DefaultCPUAllocator: not enough memory" in str(e))


def exit_code(body, out_of_memory="error: out of memory", interrupted="interrupted"):
    """Run an entry point's `body()` and return its exit code: body's own, or the one for the error
    it raised, with one line on standard error. `out_of_memory` and `interrupted`: the lines for those
    two (a callable makes its line at that moment)."""
    try:
        return body()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # a save_dir under a regular file, no permission, a full disk ...
        print(os_error_line(e), file=sys.stderr)
        return EXIT_USAGE
    except (RuntimeError, MemoryError) as e:
        if not is_out_of_memory(e):
            raise
        print(out_of_memory() if callable(out_of_memory) else out_of_memory, file=sys.stderr)
        return EXIT_OOM
    except KeyboardInterrupt:
        print(interrupted() if callable(interrupted) else interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
