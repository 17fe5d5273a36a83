"""Fetch the experiments' public data into data/, pinned and checksummed; or the authors' released runs.

    python data/download.py [div2k_test div2k_train kodak text libri ...] [--base_url URL]
    python data/download.py authors_runs          # their log/001_trans (runs + checkpoints) into log/authors/

Files come from the authors' repository at the commit pinned in data/manifest.json (or --base_url), each kept
only once its SHA-256 matches; the released runs from Google Drive. Exit 0 when everything is present.
"""
import json
import logging
import os
import sys

import gdown
import pooch
import requests
from gdown.exceptions import DownloadError, FileURLRetrievalError

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from util.cli import Parser  # noqa: E402  (the repository root, whatever the working folder)

HERE = os.path.dirname(os.path.abspath(__file__))
AUTHORS_RUNS_URL = "https://drive.google.com/drive/folders/1VMtc84T4UsgoAluNKtOg-qoJXb1Z27q0"
AUTHORS_RUNS_DEST = os.path.join(os.path.dirname(HERE), "log", "authors")


def download(path, entry, base_url, dest):
    """One manifest file into dest/path: "present" (already there and verified) or "downloaded"."""
    final = os.path.realpath(os.path.join(dest, path))  # a symlink is written through: pooch renames onto its target
    if os.path.exists(final) and not os.path.isfile(final):  # a folder, device or pipe is never renamed over
        raise OSError(f"{os.path.join(dest, path)}: not a regular file (a folder, device or pipe); move it away "
                      f"or give another --dest")
    if os.path.isfile(final) and pooch.file_hash(final) == entry["sha256"]:
        return "present"
    pooch.retrieve(f"{base_url.rstrip('/')}/{path}", known_hash=f"sha256:{entry['sha256']}",
                   fname=os.path.basename(final), path=os.path.dirname(final), progressbar=False)
    return "downloaded"


def failure(e):
    """(kind, reason) of a failed download: offline, HTTP <code>, checksum, or the local disk."""
    if isinstance(e, ValueError):  # pooch: the downloaded file's hash is not the manifest's (file removed)
        return "checksum", "the file at that address is not the pinned one (its SHA-256 differs; not kept)"
    if isinstance(e, requests.HTTPError) and e.response is not None:
        return f"HTTP {e.response.status_code}", f"the server answered {e.response.status_code} {e.response.reason}"
    if isinstance(e, (requests.ConnectionError, requests.Timeout)):
        cause = e
        while cause.__cause__ or cause.__context__:  # the socket's own words: "Name or service not known" ...
            cause = cause.__cause__ or cause.__context__
        return "offline", f"cannot reach the server ({type(cause).__name__}: {str(cause)[:100]})"
    if isinstance(e, requests.RequestException):
        return type(e).__name__, str(e).splitlines()[0][:120] if str(e) else type(e).__name__
    return "disk", f"{type(e).__name__}: {e}"  # an OSError here: the destination cannot be written


def parents(folder):
    """folder and the folders above it."""
    out = [os.path.abspath(folder)]
    while os.path.dirname(out[-1]) != out[-1]:
        out.append(os.path.dirname(out[-1]))
    return out


def fetch_data(sets, base_url, dest, manifest):
    pooch.get_logger().setLevel(logging.WARNING)
    base = base_url or manifest["raw_url_pattern"].replace("<commit>", manifest["commit"]).replace("/<path>", "")
    prefixes = tuple(p for s in sets for p in manifest["sets"][s])
    files = {p: e for p, e in manifest["files"].items() if p.startswith(prefixes)}
    failed = {}  # kind -> (reason, [paths])
    new_folders = {f for p in files for f in parents(os.path.join(dest, os.path.dirname(p))) if not os.path.isdir(f)}
    for i, (path, entry) in enumerate(sorted(files.items()), 1):
        if "offline" in failed:  # the server cannot be reached: the other files would only repeat it
            failed["offline"][1].append(path)
            continue
        try:
            print(f"[{i}/{len(files)}] {path}: {download(path, entry, base, dest)}", file=sys.stderr)
        except (ValueError, OSError, requests.RequestException) as e:
            kind, reason = failure(e)
            failed.setdefault(kind, (reason, []))[1].append(path)
    for folder in sorted(new_folders, key=len, reverse=True):  # an empty folder would pass for the data set
        if os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)
    n_failed = sum(len(paths) for _, paths in failed.values())
    print(f"{len(files) - n_failed} of {len(files)} files present and verified in {dest}", file=sys.stderr)
    for kind, (reason, paths) in failed.items():
        print(f"error: {kind}: {len(paths)} file(s) not fetched from {base} ({paths[0]}"
              f"{', ...' if len(paths) > 1 else ''}): {reason}", file=sys.stderr)
    if failed:
        print(what_to_do(sets, failed, base_url, dest, manifest), file=sys.stderr)
    return 1 if failed else 0


def what_to_do(sets, failed, base_url, dest, manifest):
    """One line: the ways to get the files that failed."""
    folders = sorted({os.path.join(dest, os.path.dirname(p)) + os.sep for _, paths in failed.values() for p in paths})
    source = manifest["source"].split(" ")[0]
    again = " ".join(["python data/download.py", *sets] + (["--base_url", base_url] if base_url else []))
    return (f"to do: run `{again}` again when the server can be reached; or fetch from a mirror of the data "
            f"folder with --base_url URL (each file from URL/<path>); or copy the files by hand (from {source}, "
            f"folder data/, commit {manifest['commit'][:10]}) into {', '.join(folders)} and run the command "
            f"again to verify them (the SHA-256s are in data/manifest.json)")


def fetch_authors_runs(dest):
    """The authors' shared folder with gdown; one line saying what to do by hand when that fails."""
    os.makedirs(dest, exist_ok=True)
    out = dest.rstrip(os.sep) + os.sep  # a trailing separator: gdown keeps the shared folder's own name below it
    try:  # list quietly first, so that an offline machine gets one line, not gdown's progress
        files = gdown.download_folder(url=AUTHORS_RUNS_URL, output=out, quiet=True, skip_download=True)
        if files:
            files = gdown.download_folder(url=AUTHORS_RUNS_URL, output=out, quiet=False, resume=True)
    except (OSError, requests.RequestException, DownloadError, FileURLRetrievalError) as e:
        files, why = None, f"{type(e).__name__}"
    else:
        why = "gdown returned nothing"
    if not files:
        print(f"error: could not fetch the authors' runs ({why}): download the folder {AUTHORS_RUNS_URL} by hand "
              f"and put its run folders under {dest}/ (e.g. {dest}/001_trans/<run>/args.json)", file=sys.stderr)
        return 1
    print(f"{len(files)} files in {dest}", file=sys.stderr)
    return 0


def main(argv=None):
    with open(os.path.join(HERE, "manifest.json")) as f:
        manifest = json.load(f)
    names = [*manifest["sets"], "authors_runs"]
    ap = Parser(prog="python data/download.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="*", default=["div2k_test"], help=f"any of {', '.join(names)} (default div2k_test)")
    ap.add_argument("--base_url", default=None, help="fetch data from URL/<path> instead of the pinned repository")
    ap.add_argument("--dest", default=None, help="target folder (default: this data/ folder; authors_runs: log/authors)")
    args = ap.parse_args(argv)
    bad = [s for s in args.sets if s not in names]
    if bad:
        print(f"error: unknown data set(s) {', '.join(bad)} (valid: {', '.join(names)})", file=sys.stderr)
        return 2
    rc = 0
    data_sets = [s for s in args.sets if s != "authors_runs"]
    if data_sets:
        rc |= fetch_data(data_sets, args.base_url, args.dest or HERE, manifest)
    if "authors_runs" in args.sets:
        rc |= fetch_authors_runs(args.dest or AUTHORS_RUNS_DEST)
    return rc


if __name__ == "__main__":
    sys.exit(main())
