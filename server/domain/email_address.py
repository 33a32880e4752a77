"""Email addresses we can deliver to, checked by ``email-validator`` and kept in ASCII.

The rule (docs/api.md): an address is accepted when email-validator finds it well formed
(no DNS lookup); an internationalised domain is accepted and stored in its IDNA
(punycode) form, which every mail server can route; an internationalised local part
(the part before ``@``, which needs SMTPUTF8 from every server on the way) is refused,
since no request can know that the mail will find such a path. The API refuses bad
addresses with 422; the email worker checks again before sending, so a row stored under
an older, looser rule can never put a CR/LF into a header or reach a server unsendable.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


class InvalidEmail(ValueError):
    """Not an address we can deliver to; the message says why in plain words."""


def deliverable_address(raw: str) -> str:
    """``raw`` as an ASCII address for SMTP envelopes and headers (domain in IDNA form).

    Raises InvalidEmail for anything email-validator refuses (control characters,
    whitespace, a missing or reserved domain, over 254 characters, …) and for a
    non-ASCII local part.
    """
    try:
        checked = validate_email(
            raw,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
    if checked.ascii_email is None:  # only possible with SMTPUTF8, which is refused above
        raise InvalidEmail("The address cannot be written in ASCII.")
    return checked.ascii_email
