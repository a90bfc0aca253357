"""The inspector page for a keyboard or screen-reader user, and at 320 px or 200 % zoom: the
lists keep a height to scroll in, live updates and actions never drop the focus to <body>, a
skip link gets past a page of rows, the field the API refused is marked for assistive tech, and
the current row keeps a mark in forced colours (WCAG 2.2 AA; from an outside a11y report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    from conftest import MakeMock, OpenPage

pytestmark = pytest.mark.xdist_group("browser")


def test_advance_clock_takes_a_number_with_an_exponent_as_set_speed_does(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, _ = make_mock(time_scale=1e-6)
    page = open_page(mock.inspector_url)
    before = mock.clock.now()
    page.locator("#clock-seconds").fill("1e3")
    page.locator("#clock-advance").click()
    expect(page.locator("#toast")).to_have_text("Mock clock advanced by 1e3 s")
    assert mock.clock.now() >= before + 1000
