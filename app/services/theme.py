"""A site's theme colours: what the widget shows them as, and the contrast they must keep.

A theme names any of THEME_KEYS with a `#rrggbb` colour; the widget sets each as the CSS variable
`--opsiq-<name>` on its host element (as a page may itself), and a key left out keeps the widget's
default. Text must stay readable: the text on the background, and the accent's text on the accent
(the buttons), at a contrast ratio of at least 4.5:1 (WCAG 2.x, 1.4.3), counting defaults for the
colours left out.
"""
import re
from collections.abc import Mapping

THEME_KEYS = ("bg", "fg", "accent", "accent-fg")
DEFAULTS = {"bg": "#ffffff", "fg": "#1a1a1a", "accent": "#1f2937", "accent-fg": "#ffffff"}  # widget.css
MIN_CONTRAST = 4.5
PAIRS = (("fg", "bg", "the text on the background"), ("accent-fg", "accent", "the buttons' text on the accent"))
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two `#rrggbb` colours (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def normalise_theme(theme: Mapping[str, str] | None) -> dict[str, str]:
    """The theme as stored: its colours lower-cased, empty ones left out."""
    return {k: v.strip().lower() for k, v in (theme or {}).items() if isinstance(v, str) and v.strip()}


def theme_problems(theme) -> list[str]:
    """What is wrong with a site document's `theme` (empty: nothing)."""
    if theme is None:
        return []
    if not isinstance(theme, Mapping):
        return ["theme: a mapping of colour names to #rrggbb colours"]
    theme = normalise_theme(theme)
    problems = [f"theme.{k}: not a colour name (one of {', '.join(THEME_KEYS)})" for k in theme if k not in THEME_KEYS]
    problems += [f"theme.{k}: {v!r} is not a #rrggbb colour" for k, v in theme.items()
                 if k in THEME_KEYS and not _HEX.fullmatch(v)]
    if problems:
        return problems
    colours = {**DEFAULTS, **theme}
    for text, ground, what in PAIRS:
        ratio = contrast(colours[text], colours[ground])
        if ratio < MIN_CONTRAST:
            problems.append(f"theme: {what} has a contrast of {ratio:.2f}:1 ({colours[text]} on {colours[ground]}); "
                            f"at least {MIN_CONTRAST}:1 is needed to be readable")
    return problems
