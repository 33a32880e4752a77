"""Streaming ``multipart/form-data`` reader: the file part flows through, never held whole.

python-multipart's push parser is fed from ``request.stream()``; file bytes are handed on as
they arrive and every byte read is counted, so size limits hold whatever Content-Length says.
Field names, values and file names must be UTF-8 without NUL (``invalid_text`` otherwise).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from server.errors import ApiError, BadRequest, PayloadTooLarge, echo
from server.http.edge_text import decoded_text

#: Plain (non-file) form fields are short; a longer one is refused rather than buffered.
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 16
#: Room for multipart envelopes and small fields on top of the file's own limit.
ENVELOPE_BYTES = 1024 * 1024


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    header_name: bytes = b""
    header_value: bytes = b""
    disposition: bytes = b""
    data: bytearray = field(default_factory=bytearray)


class MultipartUpload:
    """One upload request: ``file_chunks()`` yields the named file part's bytes; plain
    fields (before or after the file) land in ``fields`` once the body has been read.
    """

    def __init__(self, request: Request, *, file_field: str, max_body_bytes: int) -> None:
        content_type, params = parse_options_header(request.headers.get("content-type", ""))
        if content_type != b"multipart/form-data":
            raise ApiError(
                "expected a multipart/form-data body with a file part",
                code="unsupported_media_type",
                status=415,
            )
        boundary = params.get(b"boundary")
        if not boundary:
            raise BadRequest("multipart body has no boundary", code="invalid_upload")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body_bytes:
            raise PayloadTooLarge("upload is too large", code="upload_too_large")
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_seen = False
        self._file_field = file_field
        self._max_body = max_body_bytes
        self._read = 0
        self._part = _Part()
        self._file_open = False
        self._pending: list[bytes] = []
        self._ended = False
        self._body_done = False
        self._stream = request.stream()
        try:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._on_part_begin,
                    "on_part_data": self._on_part_data,
                    "on_part_end": self._on_part_end,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_end": self._on_end,
                },
            )
        except (MultipartParseError, ValueError) as exc:
            raise BadRequest("multipart boundary is invalid", code="invalid_upload") from exc

    async def open_file(self) -> bool:
        """Read up to the start of the file part; False if the body has none."""
        while not self.file_seen and not self._body_done:
            await self._feed()
        return self.file_seen

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file part's bytes as they arrive (call after ``open_file`` returned True)."""
        while True:
            while self._pending:
                yield self._pending.pop(0)
            if not self._file_open or self._body_done:
                return
            await self._feed()

    async def finish(self) -> None:
        """Read the rest of the body (trailing fields) and check it was complete."""
        while not self._body_done:
            await self._feed()
        self._pending.clear()
        if not self._ended:
            raise BadRequest("multipart body ended early", code="invalid_upload")

    async def _feed(self) -> None:
        try:
            chunk = await self._stream.__anext__()
        except StopAsyncIteration:
            self._body_done = True
            self._file_open = False
            return
        self._read += len(chunk)
        if self._read > self._max_body:
            raise PayloadTooLarge("upload is too large", code="upload_too_large")
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise BadRequest("multipart body is malformed", code="invalid_upload") from exc

    def _on_part_begin(self) -> None:
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._part.header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._part.header_value += data[start:end]

    def _on_header_end(self) -> None:
        if self._part.header_name.lower() == b"content-disposition":
            self._part.disposition = self._part.header_value
        self._part.header_name = b""
        self._part.header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._part.disposition)
        self._part.name = decoded_text(options.get(b"name", b""), "form field name")
        raw_filename = options.get(b"filename")
        self._part.filename = None
        if raw_filename:
            self._part.filename = decoded_text(raw_filename, f"{self._part.name}: file name")
        if self._part.name == self._file_field and not self.file_seen:
            self.file_seen = True
            self._file_open = True
            self.filename = self._part.filename
        elif len(self.fields) >= MAX_FIELDS:
            raise BadRequest("too many form fields", code="invalid_upload")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file_open:
            self._pending.append(data[start:end])
        elif self._part.filename is None:
            self._part.data += data[start:end]
            if len(self._part.data) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"{echo(self._part.name)}: form field is too large")

    def _on_part_end(self) -> None:
        if self._file_open:
            self._file_open = False
        elif self._part.filename is None and self._part.name:
            value = decoded_text(bytes(self._part.data), self._part.name)
            self.fields.setdefault(self._part.name, value)

    def _on_end(self) -> None:
        self._ended = True
