"""The URLs of a route for many file keys, built once and filled in per key.

A listing links every file it shows to three or four routes. Building each
link with ``url_for`` walks Werkzeug's routing for every one of them (about
a tenth of a millisecond each: most of a listing's time). The URL of a
route differs from one key to the next only where the key goes, so
:func:`key_url` builds the route once per request with a placeholder key,
keeps the text before and after it, and puts each key in between, quoted
by the route's own converter: the same string ``url_for`` returns (see
``tests/test_listing_shape.py``).

Within a request the templates are kept on :data:`flask.g`; outside one
each call builds its template anew (the configuration may change between
calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from flask import current_app, g, has_request_context
from werkzeug.routing import BaseConverter, BuildError

from .urls import api_url

PLACEHOLDER = "rfx0key0placeholder0"
"""The key a template is built with: plain letters, which no converter quotes."""

_CACHE = "_records_files_key_urls"


def _key_quoter(endpoint: str) -> Optional[Callable[[Any], str]]:
    """The ``to_url`` of the converter of the ``key`` argument of ``endpoint``."""
    for rule in current_app.url_map.iter_rules(endpoint):
        converter: Optional[BaseConverter] = getattr(rule, "_converters", {}).get("key")
        if converter is not None:
            return converter.to_url
    return None


@dataclass(frozen=True)
class KeyURL:
    """The URL of a route taking ``key``, for any key."""

    endpoint: str
    values: tuple[tuple[str, Any], ...]
    before: str
    after: str
    quote: Optional[Callable[[Any], str]]
    """The route's converter; ``None``: every URL is built by ``url_for``."""

    def __call__(self, key: str) -> str:
        """Return the URL of ``key`` (``url_for``'s answer)."""
        if self.quote is None:
            return api_url(self.endpoint, key=key, **dict(self.values))
        return self.before + self.quote(key) + self.after

    def quotes_like(self, other: KeyURL) -> bool:
        """Whether both routes quote a key the same way (one quoting serves both)."""
        if self.quote is None or other.quote is None:
            return False
        mine = getattr(self.quote, "__self__", None)
        theirs = getattr(other.quote, "__self__", None)
        return type(mine) is type(theirs) and getattr(
            self.quote, "__func__", None
        ) is getattr(other.quote, "__func__", False)

    def with_quoted(self, quoted: str) -> str:
        """Return the URL of a key already quoted by this route's converter."""
        return self.before + quoted + self.after


def _build(endpoint: str, values: tuple[tuple[str, Any], ...]) -> KeyURL:
    url = api_url(endpoint, key=PLACEHOLDER, **dict(values))
    quote = _key_quoter(endpoint)
    if (
        url.count(PLACEHOLDER) != 1
        or quote is None
        or quote(PLACEHOLDER) != PLACEHOLDER
    ):
        return KeyURL(endpoint, values, "", "", None)
    before, after = url.split(PLACEHOLDER)
    return KeyURL(endpoint, values, before, after, quote)


def key_url(endpoint: str, **values: Any) -> Optional[KeyURL]:
    """Return the URLs of ``endpoint`` with ``values`` for any key.

    ``None`` when the route cannot be built (``BuildError``).
    """
    frozen = tuple(sorted(values.items()))
    if not has_request_context():
        try:
            return _build(endpoint, frozen)
        except BuildError:
            return None
    cache: dict[Any, Optional[KeyURL]] = g.setdefault(_CACHE, {})
    name = (endpoint, frozen, current_app.config.get("SITE_API_URL"))
    if name not in cache:
        try:
            cache[name] = _build(endpoint, frozen)
        except BuildError:
            cache[name] = None
    return cache[name]


__all__ = ("KeyURL", "PLACEHOLDER", "key_url")
