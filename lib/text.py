"""What a name or a free-text field may contain: printable text, bounded by its field (one home)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# C0 and C1 controls, DEL, zero-width and bidirectional-override characters (they hide or
# reorder what a reader sees). Free text may hold tabs and line breaks; names may not.
_INVISIBLE = "\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
TEXT_FORBIDDEN = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{_INVISIBLE}]")
NAME_FORBIDDEN = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_INVISIBLE}]")


def valid_text(value: str) -> None:
    """Free text (comments, descriptions): printable, line breaks and tabs allowed."""
    if isinstance(value, str) and TEXT_FORBIDDEN.search(value):
        raise ValidationError("Control characters are not allowed.", code="control_characters")


def valid_name(value: str) -> None:
    """Names and titles: one printable line, not only spaces."""
    if not isinstance(value, str):
        return
    if NAME_FORBIDDEN.search(value):
        raise ValidationError("Control characters are not allowed.", code="control_characters")
    if value and not value.strip():
        raise ValidationError("A name cannot be only spaces.", code="blank")
