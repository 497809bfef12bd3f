"""Whom a data-subject request is about: exactly one selector, which exports and the register share."""
from app.errors import Invalid

SELECTORS = ("visitor_id", "email", "external_id", "person_id")


def selector_of(selectors: dict[str, str | None]) -> tuple[str, str]:
    """(name, value) of the one selector given; Invalid unless exactly one of SELECTORS is."""
    given = [(k, v) for k in SELECTORS if (v := selectors.get(k))]
    if len(given) != 1:
        raise Invalid(f"Give exactly one of {', '.join(SELECTORS)}.",
                      errors={"visitor_id": [f"give exactly one of {', '.join(SELECTORS)}"]})
    return given[0]
