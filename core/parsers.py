"""The API's one JSON parser: orjson for speed, json as the reference, a bounded depth.

Every API view parses JSON through `StrideJSONParser` (REST_FRAMEWORK's
DEFAULT_PARSER_CLASSES; the events view names it too). Nesting is limited to
`MAX_JSON_DEPTH` levels for the whole document: code that walks parsed data recursively
(serializers, JSON encoders, the database driver) would otherwise fail with a RecursionError
on a body such as `[[[[...]]]]`, which costs a client nothing to send.
"""

import codecs
import json
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Far deeper than any request of this API needs (a batch of events with properties nested as
# deep as ingestion allows is about 35 levels), far shallower than Python's recursion limit.
MAX_JSON_DEPTH = 64
# orjson turns integers outside [-2**63, 2**64) into floats, losing digits; json keeps them.
_ORJSON_EXACT_MIN = -(2**63)
_ORJSON_EXACT_MAX = 2**64


def _strict_constant(name: str) -> Any:
    # json.loads accepts NaN and Infinity, which are not JSON; like DRF's strict mode, refuse.
    raise ValueError(f"{name} is not a valid JSON value")


class JSONTooDeep(ParseError):
    default_code = "too_deep"


def _depth_and_exactness(data: Any, limit: int) -> tuple[bool, bool]:
    """Walk `data` level by level, without recursion; return (deeper than `limit`, whether
    a float could be an integer that orjson rounded)."""
    level = [data] if type(data) in (dict, list) else []
    rounded = type(data) is float and not _ORJSON_EXACT_MIN <= data < _ORJSON_EXACT_MAX
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True, rounded
        below = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                kind = type(child)
                if kind is dict or kind is list:
                    below.append(child)
                elif kind is float and not rounded:
                    rounded = not _ORJSON_EXACT_MIN <= child < _ORJSON_EXACT_MAX
        level = below
    return False, rounded


class StrideJSONParser(parsers.JSONParser):
    """Parse a JSON body; malformed is a 400 `parse_error`, too deep a 400 `too_deep`."""

    max_depth = MAX_JSON_DEPTH

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # DRF hands JSON parsers the body Django already read within its size limit; reading
        # at most limit + 1 bytes keeps the limit if a DRF version streams the request instead.
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        text = self._text(raw, (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET))
        data = self._loads(text)
        too_deep, rounded = _depth_and_exactness(data, self.max_depth)
        if too_deep:
            raise self._too_deep()
        return self._loads_reference(text) if rounded else data

    def _too_deep(self) -> JSONTooDeep:
        return JSONTooDeep(
            f"JSON nested more than {self.max_depth} levels deep; "
            f"at most {self.max_depth} levels are accepted."
        )

    def _text(self, raw: bytes, encoding: str) -> bytes | str:
        """The body as orjson takes it: UTF-8 bytes as they are, other charsets decoded."""
        try:
            if codecs.lookup(encoding).name == "utf-8":
                return raw
            # Only text codecs: a bytes-to-bytes codec (bz2_codec) would inflate the body
            # after its size was checked.
            "".encode(encoding)
        except LookupError as exc:
            raise ParseError(f'Unsupported charset "{encoding}" in the Content-Type.') from exc
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc

    def _loads(self, text: bytes | str) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            # orjson refuses some documents json accepts (lone surrogate escapes such as
            # "\ud800", which ingestion rejects per event rather than per batch) and words its
            # errors its own way: json decides whenever orjson refuses.
            return self._loads_reference(text)

    def _loads_reference(self, text: bytes | str) -> Any:
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            return json.loads(text, parse_constant=_strict_constant)
        except RecursionError as exc:
            raise self._too_deep() from exc
        except ValueError as exc:  # includes bytes that are not UTF-8
            raise ParseError(f"JSON parse error - {exc}") from exc
