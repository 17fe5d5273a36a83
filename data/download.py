"""Fetch the experiments' public data into data/, pinned and checksummed.

    python data/download.py [div2k_test div2k_train kodak text libri ...] [--base_url URL]

Files come from the authors' public repository at the commit pinned in data/manifest.json (or from
--base_url, which is joined with each file's path, e.g. a mirror). Every file is verified against
its SHA-256; a download is written to <file>.part, resumed from there with an HTTP range request,
and renamed only once its checksum is right, so a partial file never sits under its final name.
Exit status: 0 when every requested file is present and verified, 1 otherwise.
"""
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from util.cli import Parser  # noqa: E402  (the repository root, whatever the working folder)

HERE = os.path.dirname(os.path.abspath(__file__))
SETS = {
    "div2k_test": ("div2k/test_data/",),
    "div2k_train": ("div2k/train_data/",),
    "kodak": ("Kodak/",),
    "text": ("text/test_data/", "text/train_data/"),
    "libri": ("libri_test_clean_121726/",),
}
CHUNK = 1 << 16


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url, part, timeout=60):
    """Append the rest of `url` to `part` (resuming from its size)."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # already complete
            return
        raise
    with resp:
        mode = "ab" if have and resp.status == 206 else "wb"  # a server that ignores Range resends it all
        with open(part, mode) as f:
            for block in iter(lambda: resp.read(CHUNK), b""):
                f.write(block)


def download(path, entry, base_url, dest):
    final = os.path.join(dest, path)
    if os.path.isfile(final) and sha256(final) == entry["sha256"]:
        return "present"
    os.makedirs(os.path.dirname(final), exist_ok=True)
    part = final + ".part"
    url = f"{base_url.rstrip('/')}/{path}"
    fetch(url, part)
    digest = sha256(part)
    if digest != entry["sha256"]:
        os.unlink(part)  # a wrong file is not resumable: start over next time
        raise ValueError(f"checksum mismatch (expected {entry['sha256'][:12]}..., got {digest[:12]}...)")
    os.replace(part, final)
    return "downloaded"


def main(argv=None):
    ap = Parser(prog="python data/download.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="*", default=["div2k_test"], help=f"any of {', '.join(SETS)} (default div2k_test)")
    ap.add_argument("--base_url", default=None, help="fetch from URL/<path> instead of the pinned repository")
    ap.add_argument("--dest", default=HERE, help="target folder (default: this data/ folder)")
    args = ap.parse_args(argv)
    bad = [s for s in args.sets if s not in SETS]
    if bad:
        print(f"error: unknown data set(s) {', '.join(bad)} (valid: {', '.join(SETS)})", file=sys.stderr)
        return 2
    with open(os.path.join(HERE, "manifest.json")) as f:
        manifest = json.load(f)
    base = args.base_url or manifest["raw_url_pattern"].replace("<commit>", manifest["commit"]).replace("/<path>", "")
    prefixes = tuple(p for s in args.sets for p in SETS[s])
    files = {p: e for p, e in manifest["files"].items() if p.startswith(prefixes)}
    failed = 0
    for i, (path, entry) in enumerate(sorted(files.items()), 1):
        try:
            state = download(path, entry, base, args.dest)
            print(f"[{i}/{len(files)}] {path}: {state}", file=sys.stderr)
        except (OSError, ValueError, urllib.error.URLError) as e:
            failed += 1
            print(f"[{i}/{len(files)}] {path}: FAILED: {getattr(e, 'reason', None) or e}", file=sys.stderr)
    print(f"{len(files) - failed} of {len(files)} files present and verified in {args.dest}"
          + (f"; {failed} failed (run again to retry)" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
