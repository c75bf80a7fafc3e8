"""Helpers for the leak-check tests: run an inner test case and capture what it reports, logs and warns.

Standard library only.  ``run_case`` runs one inner test with a fresh ``unittest.TestResult`` while
capturing every log record (WARNING and up, any logger) and every warning, then drops the test instance
and runs one full garbage collection, so that anything finalized late is captured too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import ssl
import sys
import tempfile
import time
import types
import unittest
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

from asynctestkit import AsyncTestCase, LeakCheckMixin


class PlainLeakCase(LeakCheckMixin, unittest.IsolatedAsyncioTestCase):
    """The mixin on a plain IsolatedAsyncioTestCase (debug mode on, real time)."""


BASES: tuple[type[unittest.IsolatedAsyncioTestCase], ...] = (AsyncTestCase, PlainLeakCase)


class Outcome(NamedTuple):
    result: unittest.TestResult
    logs: list[logging.LogRecord]
    warnings: list[warnings.WarningMessage]
    seconds: float

    @property
    def failure(self) -> str:
        """The text of the one failure the inner test reported (asserts there is exactly one, no errors)."""
        problems = [text for _test, text in self.result.errors]
        assert not problems, "inner test errored:\n" + "\n".join(problems)
        assert len(self.result.failures) == 1, f"expected one failure, got {self.result.failures!r}"
        late = [m for m in self.messages("asynctestkit") if m.startswith("leak from")]
        assert not late, f"the cleanup left something that was finalized later: {late}"
        return self.result.failures[0][1]

    def messages(self, prefix: str = "") -> list[str]:
        """Log messages of loggers under *prefix*, without asyncio debug mode's slow-callback warnings.

        Plain IsolatedAsyncioTestCase runs in debug mode, which logs "Executing <Task ...> took 0.141 seconds"
        whenever a loaded machine makes a step slower than 0.1 s real: load, not the behaviour under test.
        """
        return [r.getMessage() for r in self.logs if r.name.startswith(prefix) and not _SLOW_STEP.match(r.getMessage())]

    def leak_warnings(self) -> list[str]:
        return [f"{w.category.__name__}: {w.message}" for w in self.warnings
                if issubclass(w.category, (ResourceWarning, RuntimeWarning))]


_SLOW_STEP = re.compile(r"Executing <.*> took \d+\.\d+ seconds$", re.S)


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def run_case(cls: type[unittest.TestCase], name: str, *, suite: list[str] | None = None) -> Outcome:
    """Run ``cls(name)`` (or the tests named in *suite*, in order) and capture results, logs and warnings."""
    handler = _ListHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    started = time.perf_counter()
    result = unittest.TestResult()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tests = unittest.TestSuite(cls(n) for n in (suite or [name]))
            tests.run(result)
            del tests
            gc.collect()
    finally:
        root.removeHandler(handler)
    return Outcome(result, handler.records, list(caught), time.perf_counter() - started)


def marker_line(module_file: str, marker: str) -> int:
    """The line of *module_file* that carries the comment ``# <marker>``."""
    tag = f"# <{marker}>"
    with open(module_file, encoding="utf-8") as source:
        for number, text in enumerate(source, 1):
            if tag in text:
                return number
    raise LookupError(f"no line tagged {tag} in {module_file}")


# -- TLS ------------------------------------------------------------------------------------------------
# A self-signed certificate for localhost / 127.0.0.1, valid until 2126 (generated once with openssl).
_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgc2OjmfS6PS7LYsbM
q8GMxSJZ60I+GtnmWK3Gt9saWd+hRANCAAQSQqYttOycbYL/jmLRRIk2xD4Gq0J8
R28dInSxExgs3MsMwWIkJFWSifFrhU54sSZ6rQtOi4Ba6y8Qo/D9nNvu
-----END PRIVATE KEY-----
"""
_CERT = """-----BEGIN CERTIFICATE-----
MIIBnDCCAUGgAwIBAgIUJrvQkLPwrbIJJb4dXRg1oTLeEGswCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzE1MzYwMFoYDzIxMjYxMDMw
MTUzNjAwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQSQqYttOycbYL/jmLRRIk2xD4Gq0J8R28dInSxExgs3MsMwWIkJFWS
ifFrhU54sSZ6rQtOi4Ba6y8Qo/D9nNvuo28wbTAdBgNVHQ4EFgQUI2ErLKhTev2J
7y4bo718KrktTywwHwYDVR0jBBgwFoAUI2ErLKhTev2J7y4bo718KrktTywwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSQAwRgIhAODDzltXN/6R2yp+6LNTMfgSvVhhOlrEaRuiVr05XLIBAiEA
80jkmxzR5wYZoQ5+hVrdZ6fSrv/5oIS77ox7p5DAqrA=
-----END CERTIFICATE-----
"""


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """``(server context, client context)`` for TLS over loopback."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        with open(cert, "w") as f:
            f.write(_CERT)
        with open(key, "w") as f:
            f.write(_KEY)
        server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    return server, client


# -- a stand-in for aiohttp (its public surface and its finalizer conventions) -------------------------

class _FakeConnector:
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._conns: dict[str, list[object]] = {}

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        self._closed = True
        self._conns.clear()

    def __del__(self) -> None:  # like aiohttp: only a connector holding pooled connections complains
        if self._closed or not self._conns:
            return
        warnings.warn(f"Unclosed connector {self!r}", ResourceWarning, source=self, stacklevel=2)
        self._loop.call_exception_handler({"connector": self, "connections": [repr(self._conns)],
                                           "message": "Unclosed connector"})


class _FakeSession:
    def __init__(self, connector: _FakeConnector | None = None, connector_owner: bool = True) -> None:
        self._loop = asyncio.get_running_loop()
        self._connector = connector if connector is not None else _FakeTCPConnector()
        self._connector_owner = connector_owner
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connector(self) -> _FakeConnector:
        return self._connector

    @property
    def connector_owner(self) -> bool:
        return self._connector_owner

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._connector_owner:
                await self._connector.close()

    async def __aenter__(self) -> _FakeSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __del__(self) -> None:
        if not self._closed:
            warnings.warn(f"Unclosed client session {self!r}", ResourceWarning, source=self, stacklevel=2)
            self._loop.call_exception_handler({"client_session": self, "message": "Unclosed client session"})


class _FakeTCPConnector(_FakeConnector):
    pass


for _cls, _module, _name in ((_FakeSession, "aiohttp.client", "ClientSession"),
                             (_FakeConnector, "aiohttp.connector", "BaseConnector"),
                             (_FakeTCPConnector, "aiohttp.connector", "TCPConnector")):
    _cls.__module__, _cls.__name__, _cls.__qualname__ = _module, _name, _name


@contextlib.contextmanager
def fake_aiohttp() -> Iterator[types.SimpleNamespace]:
    """Install modules named ``aiohttp``, ``aiohttp.client`` and ``aiohttp.connector`` holding stand-ins
    for ``ClientSession``/``BaseConnector``/``TCPConnector``, as if the application had imported aiohttp;
    everything is removed afterwards.  Skips the test when the real aiohttp is already imported.
    """
    if "aiohttp" in sys.modules:
        raise unittest.SkipTest("the real aiohttp is imported in this process")
    package = types.ModuleType("aiohttp")
    client = types.ModuleType("aiohttp.client")
    connector = types.ModuleType("aiohttp.connector")
    client.ClientSession = _FakeSession  # type: ignore[attr-defined]
    connector.BaseConnector = _FakeConnector  # type: ignore[attr-defined]
    connector.TCPConnector = _FakeTCPConnector  # type: ignore[attr-defined]
    package.client, package.connector = client, connector  # type: ignore[attr-defined]
    package.ClientSession, package.TCPConnector = _FakeSession, _FakeTCPConnector  # type: ignore[attr-defined]
    modules = {"aiohttp": package, "aiohttp.client": client, "aiohttp.connector": connector}
    sys.modules.update(modules)
    try:
        yield types.SimpleNamespace(ClientSession=_FakeSession, TCPConnector=_FakeTCPConnector)
    finally:
        for name in modules:
            sys.modules.pop(name, None)


def fake_pooled_connection(connector: Any) -> None:
    """Put one idle keep-alive connection in a stand-in connector's pool."""
    connector._conns[("127.0.0.1", 80)] = [object()]
