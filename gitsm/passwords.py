"""GetRandomPassword: AWS's password generator, with the same character classes and defaults."""

from __future__ import annotations

import secrets
import string

from gitsm.errors import InvalidParameterException

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def random_password(
    length: int = 32,
    *,
    exclude_characters: str = "",
    exclude_numbers: bool = False,
    exclude_punctuation: bool = False,
    exclude_uppercase: bool = False,
    exclude_lowercase: bool = False,
    include_space: bool = False,
    require_each_included_type: bool = True,
) -> str:
    """A random password drawn with :mod:`secrets` from the classes not excluded."""
    if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= 4096:
        raise InvalidParameterException("PasswordLength must be an integer between 1 and 4096.")
    if not isinstance(exclude_characters, str) or len(exclude_characters) > 4096:
        raise InvalidParameterException("ExcludeCharacters must be at most 4096 characters.")
    # RequireEachIncludedType: "at least one upper and lowercase letter, one number, and one
    # punctuation" (API reference). The space is never a required type: it only joins the pool.
    classes = []
    for excluded, chars in (
        (exclude_lowercase, string.ascii_lowercase),
        (exclude_uppercase, string.ascii_uppercase),
        (exclude_numbers, string.digits),
        (exclude_punctuation, PUNCTUATION),
    ):
        if not excluded:
            allowed = "".join(c for c in chars if c not in exclude_characters)
            if allowed:
                classes.append(allowed)
    space = " " if include_space and " " not in exclude_characters else ""
    pool = "".join(classes) + space
    if not pool:
        raise InvalidParameterException(
            "No characters are left to build a password from. Exclude fewer characters or types."
        )
    if require_each_included_type and length < len(classes):
        raise InvalidParameterException("Password length is too short based on the required types.")
    rng = secrets.SystemRandom()
    picked = [rng.choice(cls) for cls in classes] if require_each_included_type else []
    picked += [rng.choice(pool) for _ in range(length - len(picked))]
    rng.shuffle(picked)
    return "".join(picked)
