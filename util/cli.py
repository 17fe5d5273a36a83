"""Command-line parsing shared by every entry point."""
import argparse

from util.errors import EXIT_USAGE


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block) with exit status 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"error: {message} (see --help)\n")
