"""The one mixin that carries every assertion: the themed mixins in the order their methods resolve."""


from __future__ import annotations

from ._cancel import CancellationAssertionsMixin
from ._fanout import FanOutAssertionsMixin
from ._groups import GroupAssertionsMixin
from ._progress import ProgressAssertionsMixin
from ._timing import TimingAssertionsMixin

__all__ = ["AsyncAssertionsMixin"]


class AsyncAssertionsMixin(TimingAssertionsMixin, CancellationAssertionsMixin, FanOutAssertionsMixin,
                           GroupAssertionsMixin, ProgressAssertionsMixin):
    """Every asynctestkit assertion, for any ``unittest.IsolatedAsyncioTestCase``.

    List it before the test case base: ``class T(AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase)``.
    """
