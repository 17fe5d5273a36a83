"""The project's error types for mistakes a user makes. main.py and run.py print them as one line and
exit with code 2; any other exception is a bug and shows its traceback."""


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
    import torch

    if isinstance(e, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(e, RuntimeError) and ("DefaultCPUAllocator: can't allocate memory" in str(e)
                                            or "DefaultCPUAllocator: not enough memory" in str(e))
