"""SmartREST error lines on s/e: `<code>,<templateId>,<text>` (docs/protocols.md section 6).

Each problem with one row becomes one line; the rows before and after it are still processed. For MQTT 5
clients the acknowledgement of the message also carries a reason code (see :func:`reason_for`).
"""

from __future__ import annotations

import logging
from enum import IntEnum

from tether.adapters.smartrest.csv import encode_row
from tether.c8y import errors as wording
from tether.core.errors import Conflict, DomainError, ErrorMap, Forbidden, NotFound, ServiceUnavailable
from tether.mqtt.reason_codes import ReasonCode

__all__ = ["CODES", "Code", "SmartRestError", "error_line", "from_domain", "reason_for"]

log = logging.getLogger("tether.smartrest")

#: Cumulocity's limit for one MQTT message, header included (docs/protocols.md section 6).
MAX_MESSAGE_SIZE = 16184


class Code(IntEnum):
    OK = 20
    UNKNOWN_TEMPLATE = 40
    CREATION_ERROR = 41  # template collection creation failed, or `41,100,Device already existing`
    MALFORMED = 42
    INVALID_ARGUMENTS = 45
    SERVER_ERROR = 50


class SmartRestError(Exception):
    """A problem with one row, reported on s/e (or s/dt for template registration)."""

    def __init__(self, code: Code, text: str, template: str = "") -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.template = template

    def line(self, template: str | None = None) -> str:
        return error_line(self.code, self.template if template is None else template, self.text)


def error_line(code: int, template: str, text: str) -> str:
    return encode_row((int(code), template, text))


def unknown_template(template: str, custom: bool = False) -> SmartRestError:
    if custom:
        return SmartRestError(Code.UNKNOWN_TEMPLATE, "No template for this message id", template)
    return SmartRestError(Code.UNKNOWN_TEMPLATE, "No static template for this message id", template)


def invalid(text: str, template: str = "") -> SmartRestError:
    return SmartRestError(Code.INVALID_ARGUMENTS, text, template)


#: Domain error -> the code of its s/e line: access and existence conflicts are a server-side refusal (50),
#: anything else an argument problem (45).
CODES: ErrorMap[Code] = ErrorMap(
    {
        Forbidden: Code.SERVER_ERROR,
        Conflict: Code.SERVER_ERROR,
        ServiceUnavailable: Code.SERVER_ERROR,
        NotFound: Code.INVALID_ARGUMENTS,
        DomainError: Code.INVALID_ARGUMENTS,
    }
)


def from_domain(exc: DomainError, template: str) -> SmartRestError:
    """A service refused the row: its message in Cumulocity's words, with the code of :data:`CODES`."""
    return SmartRestError(CODES(exc), wording.message(exc), template)


def reason_for(code: Code) -> ReasonCode:
    """The MQTT 5 PUBACK/PUBREC reason code of a message with this problem (spec 3.4.2.1)."""
    if code in (Code.OK, Code.CREATION_ERROR):  # 41,100 is an answer, not a failure (thin-edge relies on it)
        return ReasonCode.SUCCESS
    if code in (Code.MALFORMED, Code.INVALID_ARGUMENTS):
        return ReasonCode.PAYLOAD_FORMAT_INVALID
    if code is Code.UNKNOWN_TEMPLATE:
        return ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR
    return ReasonCode.UNSPECIFIED_ERROR
