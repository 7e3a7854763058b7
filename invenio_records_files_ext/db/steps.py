"""Atomic steps: every change to a record's files is all or nothing.

A step opens a savepoint for its database changes and keeps an undo log for
what a savepoint cannot undo (the record's ``_files`` in memory, bytes
written to storage). Hooks (:mod:`~invenio_records_files_ext.signals`) are sent from inside the step,
so a hook that raises undoes the whole step.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from blinker import Signal
from flask import Flask, current_app
from invenio_db import db


class Step:
    """The undo log of one step."""

    def __init__(self) -> None:
        """Start with nothing to undo."""
        self._undo: list[Callable[[], object]] = []

    def undo(self, callback: Callable[[], object]) -> None:
        """Register ``callback`` to run if the step fails."""
        self._undo.append(callback)

    def rollback(self) -> None:
        """Run the undo callbacks, last registered first."""
        for callback in reversed(self._undo):
            callback()


@contextmanager
def step() -> Iterator[Step]:
    """Run a change atomically: all of it, or nothing.

    Database changes go into a savepoint; in-memory changes register an undo
    callback. If the block raises (a hook included), the savepoint is rolled
    back, the undo callbacks run in reverse order and the error propagates.
    """
    current = Step()
    try:
        with db.session.begin_nested():
            yield current
            # Flush inside the savepoint so that a later rollback of it
            # covers every change of the step.
            db.session.flush()
    except BaseException:
        current.rollback()
        raise


def send_signal(signal: Signal, **kwargs: Any) -> None:
    """Send a hook from inside a step, with the app as sender."""
    if signal.receivers:
        # Make the step's changes visible to receivers that query.
        db.session.flush()
        signal.send(app_object(), **kwargs)


def app_object() -> Flask:
    """Return the application itself, not the ``current_app`` proxy.

    Signal receivers connected for one sender compare it by identity.
    """
    # Flask's stubs type ``current_app`` as the app, not as the proxy it is.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # Flask types the proxy as Flask
    return app
