"""Where a SeldonMessage is in an HTTP request: a JSON body, the form field ``json=``,
the query parameter ``?json=``, or multipart form data (each field a JSON value, except
``strData``; a ``binData`` file is taken as bytes).
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
from collections.abc import Callable
from typing import Any

import orjson

from modelserve.codecs.http import HttpRequest
from modelserve.errors import BadRequest

NO_JSON = "Can't find JSON in data"
MULTIPART = "multipart/form-data"
MAX_MULTIPART_PARTS = 100  # a SeldonMessage has five fields: more parts are no message
MULTIPART_IN_THREAD = 64 * 1024  # bytes of multipart body parsed off the event loop


async def read_message(request: HttpRequest, fast: Callable[[bytes], Any] | None = None) -> Any:
    """``seldon_message``, with a large multipart body parsed in a thread: parsing it takes
    long enough to hold up every other request of the worker."""
    if len(request.body) > MULTIPART_IN_THREAD and request.media_type == MULTIPART:
        return await asyncio.to_thread(seldon_message, request)
    return seldon_message(request, fast)


def seldon_message(request: HttpRequest, fast: Callable[[bytes], Any] | None = None) -> Any:
    """The JSON value a Seldon endpoint was sent, wherever in the request it is; a JSON body
    is read by ``fast`` first when given (``numjson``: its arrays as numpy; None: not read)."""
    media_type = request.media_type
    if media_type == "application/x-www-form-urlencoded":
        fields = request.form()
        if "json" in fields:
            return _json_field(fields["json"][0], "form field json")
    query = request.query() if request.query_string else {}
    if "json" in query:
        return _json_field(query["json"][0], "query parameter json")
    if media_type == MULTIPART:
        return multipart_message(request)
    if not request.body:
        if request.method == "GET":
            raise BadRequest("No payload: send the message as ?json=... on a GET")
        raise BadRequest(NO_JSON)
    if fast is not None and (message := fast(request.body)) is not None:
        return message
    try:
        message = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise BadRequest(NO_JSON) from None
    if message is None:
        raise BadRequest(NO_JSON)
    return message


def raw_payload(request: HttpRequest) -> str | bytes:
    """The undecoded payload, for PAYLOAD_PASSTHROUGH."""
    if request.media_type == "application/x-www-form-urlencoded":
        fields = request.form()
        if fields.get("json"):
            return fields["json"][0]
    query = request.query() if request.query_string else {}
    if query.get("json"):
        return query["json"][0]
    return request.body


def _json_field(text: str, where: str) -> Any:
    if not text:
        raise BadRequest(f"Empty {where}: it must hold a JSON SeldonMessage")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"Invalid JSON in {where}: {error}") from None


def multipart_message(request: HttpRequest) -> dict[str, Any]:
    """A message from multipart fields: each field is JSON, except strData; files as data."""
    content_type = request.header(b"content-type") or b""
    boundary = content_type.partition(b"boundary=")[2].split(b";", 1)[0].strip().strip(b'"')
    if not boundary:
        raise BadRequest("Multipart body without a boundary in its Content-Type")
    if request.body.count(b"--" + boundary) > MAX_MULTIPART_PARTS + 1:
        raise BadRequest(f"Multipart body of more than {MAX_MULTIPART_PARTS} parts: a SeldonMessage has five fields")
    head = b"Content-Type: " + content_type + b"\r\nMIME-Version: 1.0\r\n\r\n"
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    if not parsed.is_multipart():
        raise BadRequest("Malformed multipart body")
    message: dict[str, Any] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        if part.get_filename() is not None:
            if name == "binData":
                message[name] = base64.b64encode(payload).decode("ascii")
            else:
                message[name] = payload.decode("utf-8", "replace")
        elif name == "strData":
            message[name] = payload.decode("utf-8", "replace")
        else:
            message[name] = _json_field(payload.decode("utf-8", "replace"), f"multipart field {name}")
    if not message:
        raise BadRequest("Multipart body has no fields")
    return message
