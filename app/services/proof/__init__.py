"""Proof packs: the banner and the preferences dialog of each published policy version, as the real
widget rendered them in headless Chromium, with the hashes that tie them to the widget build and
the texts (packs.py), rendered by render.py, exported with a standard-library checker (verify_pack.py)."""
