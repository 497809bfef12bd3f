"""The built widget, static/widget.js: the parts around its configuration token, and its build.

Read from disk once per process and path. The embed (app/embed.py), the dashboard's preview and
the proof packs inline a configuration between the parts; the build (the SHA-256 of the file) is
what the configuration names and a consent record collected with it keeps
(app/services/widget_builds.py).
"""
import hashlib
import threading

TOKEN = "__OPSIQ_CONFIG__"
_parts = {}  # path of widget.js -> (before, after, SHA-256 of the file); read once per process
_lock = threading.Lock()


def _widget(path):
    parts = _parts.get(path)
    if parts is None:
        with open(path, "rb") as f:
            raw = f.read()
        source = raw.decode("utf-8")
        if source.count(TOKEN) != 1:
            raise RuntimeError(f"{path} must contain {TOKEN} exactly once (rebuild the widget)")
        before, after = source.split(TOKEN)
        with _lock:
            parts = _parts.setdefault(path, (before, after, hashlib.sha256(raw).hexdigest()))
    return parts


def widget_parts(path):
    """static/widget.js split around the config token, read from disk once per process."""
    return _widget(path)[:2]


def widget_build(path):
    """The widget's build: the SHA-256 (hex) of static/widget.js's bytes as built, the token in
    place (what a proof pack names, and what a consent record collected with it names)."""
    return _widget(path)[2]
