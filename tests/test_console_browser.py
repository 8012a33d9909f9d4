"""The staff console in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
driven by selenium through /usr/bin/chromedriver; nothing is downloaded): sign in with Mini App
data the test signs (given to the page as Telegram's script would), compose and send a notice
and see its delivery counts rise, open an evening's list of who comes, try another steunpunt's
notice, at 360 px wide, by keyboard, with labelled fields and enough contrast. A screenshot of
every page is kept in test-artefacts/console/.

One browser for the whole session (per test worker); each test starts without cookies.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app.dispatch import BotCore
from bot.config import ConsoleSettings
from bot.console.web import mount
from bot.features.broadcast.delivery import NoticeDeliverer
from bot.features.broadcast.models import Broadcast
from bot.features.steunpunt.directory import import_example_if_empty
from tests.conftest import core_for, settings_for
from tests.conversation import staff_user
from tests.test_broadcast import BOXTEL, DEN_BOSCH, VUGHT, VUGHT_BOXTEL, RecordingSender, caregiver
from tests.test_console import TOKEN, signed
from tests.test_evenings import LINDE, add_locations, family, new_evening
from tests.test_evenings import evening_id as evening_id_of

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTEFACTS = Path(__file__).resolve().parent.parent / "test-artefacts" / "console"
WIDTH, HEIGHT = 360, 780

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException as StaleElement  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", f"--window-size={WIDTH},{HEIGHT}", "--lang=nl",
                     "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "nl-NL,nl"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(20)
    # A phone's screen (a headless window is at least 500 px wide by itself).
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": True},
    )
    # No internet here, and none needed: Telegram's own script is blocked, the test plays it.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*telegram.org*"]})
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
async def site(sqlite_url: str, clock: Any) -> AsyncIterator[tuple[BotCore, str]]:
    """The console of a bot core on a real port of localhost (a secure context for Chromium, so
    the Secure, __Host- cookie works over http there)."""
    core = core_for(settings_for(sqlite_url), clock)
    await import_example_if_empty(core.db)
    await add_locations(core)
    core.bot_username = lambda: "mantelzorg_test_bot"
    app = web.Application()
    mount(app, core, ConsoleSettings(), TOKEN)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "localhost", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield core, f"http://localhost:{port}"
    finally:
        await runner.cleanup()
        await core.db.dispose()


class Page:
    """The browser, driven from the test's event loop (selenium blocks: run in a thread)."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver = driver
        self.base = base

    async def run(self, function: Any, *args: Any) -> Any:
        return await asyncio.to_thread(function, *args)

    async def open(self, path: str) -> str:
        await self.run(self.driver.get, self.base + path)
        return await self.text()

    def loaded(self) -> None:
        WebDriverWait(self.driver, 10).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete"
        )

    async def text(self) -> str:
        return str(await self.run(lambda: self.driver.find_element(By.TAG_NAME, "main").text))

    async def sign_in(self, user_id: int, core: BotCore) -> str:
        """As in Telegram: the page is opened with `Telegram.WebApp.initData` set."""
        init = signed(user_id, core.clock.now())
        script = f"window.Telegram = {{WebApp: {{initData: {json.dumps(init)}, ready() {{}}}}}};"

        def go() -> None:
            self.driver.delete_all_cookies()
            added = self.driver.execute_cdp_cmd(
                "Page.addScriptToEvaluateOnNewDocument", {"source": script}
            )
            self.driver.get(self.base + "/console/")
            self.driver.execute_cdp_cmd(
                "Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]}
            )

        await self.run(go)
        return await self.text()

    async def click(self, text: str) -> str:
        """A link or button by its visible text, pressed with the keyboard (Enter)."""

        def press() -> None:
            before = self.driver.find_element(By.TAG_NAME, "html")
            found = WebDriverWait(self.driver, 10, ignored_exceptions=(StaleElement,)).until(
                lambda driver: [
                    e
                    for e in driver.find_elements(By.CSS_SELECTOR, "a, button")
                    if e.text.strip() == text and e.is_displayed()
                ],
                f"nothing called {text!r} on {self.driver.current_url}",
            )
            found[0].send_keys(Keys.RETURN)
            WebDriverWait(self.driver, 10).until(lambda _: gone(before))  # the next page
            self.loaded()

        await self.run(press)
        return await self.text()

    async def type_into(self, label: str, text: str) -> None:
        """Type into the field named by its <label> (clicking a label focuses its field)."""

        def typed() -> None:
            # (No bare next(): a StopIteration cannot cross asyncio.to_thread, it would hang.)
            labels = {e.text.strip(): e for e in self.driver.find_elements(By.TAG_NAME, "label")}
            assert label in labels, f"no field labelled {label!r}; labels: {list(labels)}"
            field = self.driver.find_element(By.ID, labels[label].get_attribute("for"))
            field.clear()
            field.send_keys(text)

        await self.run(typed)

    async def check_page(self, name: str) -> None:
        """Fits 360 px, every field has a label, the text has enough contrast; screenshot."""
        width = await self.run(self.driver.execute_script,
                               "return document.documentElement.scrollWidth")  # fmt: skip
        assert width <= WIDTH, f"{name}: {width} px wide at a {WIDTH} px screen"
        unlabelled = await self.run(self.driver.execute_script, UNLABELLED)
        assert unlabelled == [], f"{name}: fields without a label: {unlabelled}"
        for selector, color, background in await self.run(self.driver.execute_script, COLOURS):
            ratio = contrast(color, background)
            assert ratio >= 4.5, f"{name}: {selector} has contrast {ratio:.1f} (< 4.5)"
        await self.run(self.screenshot, ARTEFACTS / f"{name}.png")

    def screenshot(self, path: Path) -> None:
        """The whole page, not only what fits the phone's screen."""
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        metrics = {"width": WIDTH, "deviceScaleFactor": 1, "mobile": True}
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {**metrics, "height": max(HEIGHT, height)}
        )
        try:
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride", {**metrics, "height": HEIGHT}
            )


def gone(element: Any) -> bool:
    """The page of `element` was replaced. (Chromedriver may say so with its own error, "Node
    with given id does not belong to the document", instead of a stale element.)"""
    try:
        element.is_enabled()
    except WebDriverException:  # StaleElementReferenceException is one too
        return True
    return False


UNLABELLED = """
return [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
  .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name);
"""
# The colour of each kind of text and the background it is on (the first non-transparent one).
COLOURS = """
function bg(e) {
  for (; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c;
  }
  return 'rgb(255, 255, 255)';
}
const out = [];
for (const sel of ['main p', 'main td', 'main label', '.hint', 'nav a', 'main a', 'button',
                   '.top a', '.error', '.notice']) {
  for (const e of [...document.querySelectorAll(sel)].slice(0, 3)) {
    out.push([sel, getComputedStyle(e).color, bg(e)]);
  }
}
return out;
"""


def contrast(color: str, background: str) -> float:
    """WCAG 2 contrast ratio of two CSS rgb() colours."""

    def luminance(css: str) -> float:
        channels = [int(v) / 255 for v in re.findall(r"\d+(?:\.\d+)?", css)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(color), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


async def test_sign_in_compose_send_and_see_the_delivery_counts_rise(
    browser: Any, site: tuple[BotCore, str]
) -> None:
    core, base = site
    for user_id, code in ((7001, VUGHT), (7002, VUGHT), (7003, BOXTEL)):
        await caregiver(core, user_id, municipality=code)
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL, display_name="Sanne")
    page = Page(browser, base)
    signin = await page.open("/console/")
    assert "Open deze pagina vanuit het medewerkersmenu" in signin
    await page.check_page("01-sign-in")
    home = await page.sign_in(601, core)
    assert "Kies waar je aan wilt werken" in home
    first_tab = await page.run(
        lambda: (
            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB),
            browser.switch_to.active_element.text,
        )[1]
    )
    assert first_tab == "Naar de inhoud"  # the skip link comes first
    await page.check_page("02-home")
    assert "Er zijn nog geen berichten" in await page.click("Berichten")
    await page.check_page("03-notices-empty")
    assert "Tekst van het bericht" in await page.click("Nieuw bericht")
    await page.type_into("Tekst van het bericht", "Koffieochtend voor mantelzorgers, 3 december.")
    await page.check_page("04-compose")
    preview = await page.click("Bekijk hoe het eruitziet")
    assert "Koffieochtend voor mantelzorgers" in preview and "3 mantelzorgers" in preview
    await page.check_page("05-preview")
    sending = await page.click("Versturen")
    assert "wordt nu verstuurd" in sending and "Verstuurd: 0" in sending
    assert "Nog te gaan: 3" in sending
    await page.check_page("06-notice-sending")
    await NoticeDeliverer(core, RecordingSender(), "worker:1:browser").run()  # type: ignore[arg-type]
    await page.run(browser.refresh)
    done = await page.text()
    assert "Verstuurd: 3" in done and "Nog te gaan: 0" in done
    assert await page.run(lambda: len(browser.find_elements(By.CSS_SELECTOR, "svg polyline")))
    await page.check_page("07-notice-delivered")
    listed = await page.click("Terug")
    assert "3 van 3" in listed and "verstuurd" in listed
    await page.check_page("08-notices")


async def test_another_steunpunts_notice_is_not_found_in_the_browser(
    browser: Any, site: tuple[BotCore, str]
) -> None:
    core, base = site
    await caregiver(core, 7001, municipality=VUGHT)
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    await staff_user(core, 602, steunpunt_key=DEN_BOSCH)
    page = Page(browser, base)
    await page.sign_in(601, core)
    await page.open("/console/notices/new")
    await page.type_into("Tekst van het bericht", "Alleen voor Vught en Boxtel")
    await page.click("Bekijk hoe het eruitziet")
    await page.click("Versturen")
    async with core.db.transaction() as session:
        notice_id = (await session.scalars(select(Broadcast.id))).one()
    await page.sign_in(602, core)
    other = await page.open(f"/console/notices/{notice_id}")
    assert "Niet gevonden" in other and "Alleen voor Vught" not in other
    await page.check_page("09-other-steunpunt-404")
    card = await page.click("Kaart van het steunpunt")
    assert "Zo zien mantelzorgers nu jullie kaart" in card
    await page.check_page("10-card")


async def test_location_staff_open_an_evenings_list_of_who_comes(
    browser: Any, site: tuple[BotCore, str]
) -> None:
    core, base = site
    anna = await family(core, 611, "Anna de Vries")
    staff = await staff_user(core, 610, location_key=LINDE)
    await new_evening(staff)
    await anna.presses_data(f"ev:a:{await evening_id_of(core)}:yes")
    await anna.taps("2")
    page = Page(browser, base)
    await page.sign_in(610, core)
    listed = await page.click("Familieavonden")
    assert "Familieavond met muziek" in listed
    await page.check_page("11-evenings")
    evening = await page.click("Familieavond met muziek")
    assert "Anna de Vries (2)" in evening and "Wie komt er?" in evening
    await page.check_page("12-evening-rsvps")
    await page.open(f"/console/card/{VUGHT_BOXTEL}")
    assert "Niet gevonden" in await page.text()  # location staff: no steunpunt card


async def test_steunpunt_staff_pick_up_and_close_a_request_for_contact(
    browser: Any, site: tuple[BotCore, str]
) -> None:
    from tests.test_handover import DEN_BOSCH as HANDOVER_STEUNPUNT
    from tests.test_handover import ask
    from tests.test_handover import caregiver as asking_caregiver

    core, base = site
    await staff_user(core, 2021, steunpunt_key=HANDOVER_STEUNPUNT, display_name="Sanne")
    await ask(await asking_caregiver(core, 2022), note="Graag na de middag bellen")
    page = Page(browser, base)
    await page.sign_in(2021, core)
    queue = await page.click("Verzoeken om contact")
    assert "Open: 1. Opgepakt: 0. Afgesloten: 0." in queue
    await page.check_page("13-requests")
    request = await page.run(
        lambda: browser.find_element(By.CSS_SELECTOR, "main .cards a").get_attribute("href")
    )
    shown = await page.open(request.removeprefix(base))
    assert "Graag na de middag bellen" in shown and "nog niet opgepakt" in shown
    await page.check_page("14-request")
    picked = await page.click("Ik pak dit op")
    assert "Je hebt dit verzoek opgepakt" in picked and "opgepakt door Sanne" in picked
    await page.type_into("Bericht aan Anna", "Ik bel u morgen om 14:00.")
    written = await page.click("Stuur een bericht")
    assert "Je bericht is verstuurd" in written and "Ik bel u morgen om 14:00." in written
    await page.check_page("15-request-picked-up")

    def choose_outcome() -> None:  # by keyboard: the radio button gets Space
        browser.find_element(By.ID, "outcome-contact").send_keys(Keys.SPACE)

    await page.run(choose_outcome)
    closed = await page.click("Afsluiten")
    assert "afgesloten: er is contact geweest" in closed
    await page.check_page("16-request-closed")


async def test_steunpunt_staff_read_the_area_insight_and_write_an_inspraak_question(
    browser: Any, site: tuple[BotCore, str]
) -> None:
    from tests.test_insight import OCTOBER, people, selfcheck

    core, base = site
    for caregiver_id in await people(core, 8000, 12, VUGHT):
        await selfcheck(core, caregiver_id, "moderate", OCTOBER)
    await staff_user(core, 2031, steunpunt_key=VUGHT_BOXTEL, display_name="Sanne")
    page = Page(browser, base)
    await page.sign_in(2031, core)
    insight = await page.click("Inzicht")
    assert "Uitslag van de zelftest per maand" in insight and "te weinig om te tonen" in insight
    await page.check_page("17-insight")
    await page.click("Inspraak")
    await page.check_page("18-inspraak")
    await page.click("Nieuwe vraag")
    await page.type_into("Vraag", "Wat helpt jou het meest?")
    await page.type_into("Keuzes", "Meer informatie\nEen vrijwilliger die even oppast")
    await page.check_page("19-inspraak-new")
    preview = await page.click("Bekijk hoe het eruitziet")
    assert "Wat gebeurt er met mijn antwoord?" in preview and "12 mantelzorgers" in preview
    await page.check_page("20-inspraak-preview")
    sent = await page.click("Versturen (12)")
    assert "Je vraag wordt nu verstuurd" in sent and "Antwoorden: minder dan 10" in sent
    await page.check_page("21-inspraak-question")
