"""Fetch the experiments' public data into data/, pinned and checksummed; or the authors' released runs.

    python data/download.py [div2k_test div2k_train kodak text libri ...] [--base_url URL]
    python data/download.py authors_runs          # their log/001_trans (runs + checkpoints) into log/authors/

Data files come from the authors' public repository at the commit pinned in data/manifest.json (or
from --base_url, which is joined with each file's path, e.g. a mirror), through pooch: each is
verified against its SHA-256 and moved to its final name only once it matches, so a wrong or partial
file never sits there; a present file with the right checksum is not fetched again.
The released runs sit in a Google Drive folder (the published README's "Checkpoints" link), fetched
with gdown; `python summarize.py log/authors` reads them, `python main.py --eval_ckpt log/authors
--input_path data/div2k/test_data --trust_checkpoint` decodes their checkpoints.
Exit status: 0 when everything requested is present (and verified), 1 otherwise.
"""
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from util.cli import Parser  # noqa: E402  (the repository root, whatever the working folder)

HERE = os.path.dirname(os.path.abspath(__file__))
AUTHORS_RUNS_URL = "https://drive.google.com/drive/folders/1VMtc84T4UsgoAluNKtOg-qoJXb1Z27q0"
AUTHORS_RUNS_DEST = os.path.join(os.path.dirname(HERE), "log", "authors")


def download(path, entry, base_url, dest):
    """One manifest file into dest/path: "present" (already there and verified) or "downloaded"."""
    import pooch

    final = os.path.join(dest, path)
    if os.path.isfile(final) and pooch.file_hash(final) == entry["sha256"]:
        return "present"
    pooch.retrieve(f"{base_url.rstrip('/')}/{path}", known_hash=f"sha256:{entry['sha256']}",
                   fname=os.path.basename(final), path=os.path.dirname(final), progressbar=False)
    return "downloaded"


def fetch_data(sets, base_url, dest, manifest):
    import pooch
    import requests

    pooch.get_logger().setLevel(logging.WARNING)
    base = base_url or manifest["raw_url_pattern"].replace("<commit>", manifest["commit"]).replace("/<path>", "")
    prefixes = tuple(p for s in sets for p in manifest["sets"][s])
    files = {p: e for p, e in manifest["files"].items() if p.startswith(prefixes)}
    failed = 0
    for i, (path, entry) in enumerate(sorted(files.items()), 1):
        try:
            state = download(path, entry, base, dest)
            print(f"[{i}/{len(files)}] {path}: {state}", file=sys.stderr)
        except ValueError as e:  # pooch: the downloaded file's hash is not the manifest's (file removed)
            failed += 1
            print(f"[{i}/{len(files)}] {path}: FAILED: checksum mismatch ({str(e).splitlines()[0][:120]})",
                  file=sys.stderr)
        except (OSError, requests.RequestException) as e:
            failed += 1
            print(f"[{i}/{len(files)}] {path}: FAILED: {type(e).__name__}: {str(e)[:160]}", file=sys.stderr)
    print(f"{len(files) - failed} of {len(files)} files present and verified in {dest}"
          + (f"; {failed} failed (run again to retry)" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def fetch_authors_runs(dest):
    """The authors' shared folder with gdown; one line saying what to do by hand when that fails."""
    import gdown
    import requests
    from gdown.exceptions import DownloadError, FileURLRetrievalError

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
