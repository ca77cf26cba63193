"""The OpenAI Responses API as the daemon speaks it to its clients.

Every provider is reached through the canonical (chat) form. What one request
needs again when its answer is written back (flattened tool names, its id, the
stream's event numbers) is its `Call`, which the route sets in `CALL` for the
task that serves the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import orjson

from llmp.daemon.api.openai_wire import error_object
from llmp.daemon.api.responses_events import event, response_from_chat
from llmp.daemon.api.responses_inbound import Call, to_canonical
from llmp.daemon.api.responses_stream import response_stream
from llmp.daemon.errors import ClientError, UpstreamError
from llmp.daemon.providers.anthropic_response import MALFORMED, unreadable

CALL: ContextVar[Call] = ContextVar("llmp_responses_call")
MAX_ID = 200  # longer ids are not ours, and are not repeated back whole


def not_found(response_id: str, param: str | None = None) -> ClientError:
    """OpenAI's answer for an id it does not hold (or no longer holds)."""
    shown = response_id[:MAX_ID]
    if param:
        return ClientError(f"Previous response with id '{shown}' not found.", status=404, param=param,
                           code="previous_response_not_found")
    return ClientError(f"No response found with id '{shown}'.", status=404, code="not_found")


class ResponsesWire:
    name = "responses"

    def to_canonical(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        call = CALL.get()
        if call.unknown_previous is not None:
            raise not_found(call.unknown_previous, "previous_response_id")
        if call.dropped and call.reject_dropped:
            raise ClientError(f"these tools cannot run on the provider serving this model: "
                              f"{', '.join(call.dropped)}", param="tools", code="unsupported_tool")
        try:
            return to_canonical(call)
        except MALFORMED as exc:  # a field of the wrong shape deep in an item
            raise ClientError(f"the request's input or tools are malformed ({type(exc).__name__})") from exc

    def encode_response(self, operation: str, response: dict[str, Any]) -> bytes:
        call = CALL.get()
        try:
            answer = response_from_chat(call, response)
        except MALFORMED as exc:
            raise unreadable(None) from exc
        call.output, call.response = answer["output"], answer
        return orjson.dumps(answer)

    def encode_stream(
        self, operation: str, chunks: AsyncIterator[dict[str, Any]], body: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        return response_stream(CALL.get(), chunks)

    def error_body(self, error: ClientError | UpstreamError) -> bytes:
        return orjson.dumps(error_object(error))

    def stream_error(self, error: UpstreamError) -> bytes:
        call = CALL.get()
        code = error.code or error.kind.value
        if call.writer is not None:
            return call.writer.failed(code, error.message)
        call.sequence += 1
        return event("error", {"type": "error", "code": code, "message": error.message,
                               "param": None, "sequence_number": call.sequence})


RESPONSES = ResponsesWire()
