#!/usr/bin/env python3
"""Re-check every hash of an OpsIQ Consent proof pack, with the Python standard library only.

Usage: python3 verify_pack.py [PACK.zip | DIRECTORY] [--widget widget.js]

Checks that every file the manifest lists is in the pack with the SHA-256 it lists, that the pack's
digest is the SHA-256 of its manifest, that the pack's ledger row hash (its columns and its files'
hashes) is the one the ledger seal holds (when the pack is sealed), and, with --widget, that a copy
of the widget has the SHA-256 the manifest names. Prints what it checked; exits 1 on any mismatch.
"""
import hashlib
import json
import os
import sys
import zipfile


def canonical(value):
    """The serialisation the service hashes: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_pack(path):
    if os.path.isdir(path):
        out = {}
        for name in os.listdir(path):
            with open(os.path.join(path, name), "rb") as f:
                out[name] = f.read()
        return out
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def check(files, widget=None):
    """The problems found (empty: the pack is intact)."""
    problems = []
    outer = json.loads(files["manifest.json"])
    pack = outer["pack"]
    for name, expected in sorted(pack["files"].items()):
        if name not in files:
            problems.append(f"{name}: listed in the manifest but missing from the pack")
        elif sha256(files[name]) != expected:
            problems.append(f"{name}: SHA-256 {sha256(files[name])} is not the manifest's {expected}")
        else:
            print(f"ok   {name}  {expected}")
    extra = set(files) - set(pack["files"]) - {"manifest.json", "README.txt", "verify_pack.py"}
    problems += [f"{name}: in the pack but not in its manifest" for name in sorted(extra)]
    digest = sha256(canonical(pack))
    if digest != outer["digest"] or outer["row"]["digest"] != digest:
        problems.append(f"the manifest's digest is {digest}, the pack says {outer['digest']}")
    else:
        print(f"ok   pack digest  {digest}")
    if outer["row"]["manifest"] != pack:
        problems.append("the ledger row's manifest is not the pack's")
    seal = outer.get("seal")
    if isinstance(seal, dict):
        actual = {name: sha256(files[name]) for name in pack["files"] if name in files}
        row_hash = sha256(canonical({**outer["row"], "files": actual}))
        if [outer["pack_id"], row_hash] != list(seal["entry"]):
            problems.append(f"the pack's row hash {row_hash} is not the one proof seal {seal['seq']} holds")
        else:
            print(f"ok   sealed in proof seal {seal['seq']} ({seal['seal_hash']}, {seal['sealed_at']})")
    else:
        print(f"--   ledger seal: {seal}")
    if widget is not None:
        with open(widget, "rb") as f:
            got = sha256(f.read())
        if got != pack["widget"]["sha256"]:
            problems.append(f"{widget}: SHA-256 {got} is not the widget the pack names ({pack['widget']['sha256']})")
        else:
            print(f"ok   widget  {got}")
    if not pack.get("screenshots"):
        print(f"--   no screenshots: {pack.get('screenshots_reason')}")
    return problems


def main(argv):
    args = list(argv)
    widget = None
    if "--widget" in args:
        i = args.index("--widget")
        widget = args[i + 1]
        del args[i:i + 2]
    path = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    problems = check(read_pack(path), widget)
    for p in problems:
        print(f"FAIL {p}")
    print("the pack is intact" if not problems else f"{len(problems)} problem(s): the pack was altered")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
