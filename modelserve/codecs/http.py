"""An HTTP request as the protocols see it (the body read once), and the answer tuple."""

from __future__ import annotations

from urllib.parse import parse_qs

from modelserve.errors import BadRequest

Headers = list[tuple[bytes, bytes]]
# (status, content type, body) or (status, content type, body, extra headers)
Response = tuple[int, bytes, bytes] | tuple[int, bytes, bytes, Headers]
JSON = b"application/json"


class HttpRequest:
    """Method, path, headers and the whole body of one HTTP request."""

    __slots__ = ("_query", "body", "headers", "method", "path", "query_string")

    def __init__(self, method: str, path: str, query_string: bytes, headers: Headers, body: bytes):
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.body = body
        self._query: dict[str, list[str]] | None = None

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` in lower case)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower case ('' when absent)."""
        value = self.header(b"content-type")
        if value == JSON:
            return "application/json"
        if not value:
            return ""
        return value.split(b";", 1)[0].strip().lower().decode("latin-1")

    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            text = self.query_string.decode("latin-1")
            self._query = _fields(text, "query string") if text else {}
        return self._query

    def form(self) -> dict[str, list[str]]:
        """The fields of an ``application/x-www-form-urlencoded`` body."""
        return _fields(self.body.decode("latin-1"), "form body")


MAX_FIELDS = 1000  # of a query string or a form body


def _fields(text: str, where: str) -> dict[str, list[str]]:
    try:
        return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadRequest(f"The {where} has more than {MAX_FIELDS} fields") from None
