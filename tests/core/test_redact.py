"""Redaction: registered keys and key-shaped text never reach a log record or a message."""

from __future__ import annotations

import io
import logging

from hypothesis import given
from hypothesis import strategies as st

from llmp.core.redact import RedactingFilter, Redactor, mask
from llmp.daemon.errors import ClientError, ErrorKind, UpstreamError

OPENAI = "sk-proj-Q7fT2mB9xL4kP8vN3zR6wY1cJ5hD0sGa"
ANTHROPIC = "sk-ant-api03-Zx8Vb7Nm6Qw5Er4Ty3Ui2Op1As0Df9Gh8Jk7"
GEMINI = "AIzaSyD4x9Kq2Lm7Np3Rt8Vw1Yz5Bc6Fg0Hj-Ka"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


def test_shapes_are_masked_without_registration() -> None:
    redactor = Redactor()
    text = f"keys {OPENAI}, {ANTHROPIC} and {GEMINI}; Authorization: Bearer abc.def-ghi_jkl123; {JWT}"
    out = redactor.redact(text)
    for secret in (OPENAI, ANTHROPIC, GEMINI, "abc.def-ghi_jkl123", JWT):
        assert secret not in out
    assert "sk-…0sGa" in out and "AIz…j-Ka" in out and "Bearer abc…l123" in out
    assert redactor.redact("a sk-short and skip-this, 12 tokens") == "a sk-short and skip-this, 12 tokens"


def test_registered_secrets_of_any_shape() -> None:
    redactor = Redactor()
    redactor.register("team-secret-with-no-shape-42")
    redactor.register("team-secret-with-no-shape-42-and-more")  # contains the first
    redactor.register("short")  # too short to mask safely: ignored
    out = redactor.redact("a=team-secret-with-no-shape-42-and-more b=team-secret-with-no-shape-42 short")
    assert out == "a=tea…more b=tea…e-42 short"
    assert mask("12345678") == "…"


REGISTERED = "team-secret-with-no-shape-42"
_PIECES = st.sampled_from([OPENAI, GEMINI[:20], JWT, REGISTERED, REGISTERED[:9], "sk-", "Bearer", "eyJ",
                           " ", "\t", "\0", "/", "abcdefghijklmnop", "x"])
_VALUES = st.lists(_PIECES, max_size=6).map("".join) | st.integers() | st.none()


@given(st.dictionaries(st.sampled_from("abcde"), _VALUES))
def test_redacting_values_at_once_is_redacting_each(values: dict) -> None:
    """The one-scan shortcut never lets through what a scan of each value would mask."""
    redactor = Redactor()
    redactor.register(REGISTERED)
    expected = {name: redactor.redact(v) if isinstance(v, str) else v for name, v in values.items()}
    redactor.redact_values(values)
    assert values == expected


def test_logging_filter_masks_message_args_extras_and_traceback() -> None:
    from llmp.core.redact import register_secret

    register_secret("registered-secret-value-777")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("llmp.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling with %s", OPENAI, extra={"header": f"Bearer {GEMINI}"})
        try:
            raise RuntimeError("failed with registered-secret-value-777")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "calling with sk-…0sGa" in output and "RuntimeError: failed with reg…-777" in output
    assert OPENAI not in output and "registered-secret-value-777" not in output


def test_errors_carry_redacted_messages() -> None:
    upstream = UpstreamError(ErrorKind.AUTH, f"Incorrect API key provided: {OPENAI}", status=401)
    assert OPENAI not in upstream.message and OPENAI not in str(upstream)
    client = ClientError(f"The model '{ANTHROPIC}' does not exist")
    assert ANTHROPIC not in client.message
