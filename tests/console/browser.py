"""Selenium over Debian's headless chromium and chromium-driver (nothing downloads a browser): the console's
pages driven as an operator would, with waits on conditions (never on durations) and screenshots kept as
test artifacts (`TETHER_TEST_ARTIFACTS`, default `.artifacts/console/`, not committed)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30.0  # seconds; only guards against hangs
_DEFAULT_ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"
ARTIFACTS = Path(os.environ.get("TETHER_TEST_ARTIFACTS", _DEFAULT_ARTIFACTS)) / "console"
T = TypeVar("T")


def start_chromium() -> webdriver.Chrome:
    """Headless chromium; a missing browser is an error (the suite must not silently skip the console)."""
    for binary, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(binary).exists() and shutil.which(Path(binary).name) is None:
            raise RuntimeError(f"{binary} is missing: apt-get install {package} (.ci/run installs it)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=en-US"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Console:
    """One browser tab on the console of a server at `base`."""

    def __init__(self, driver: webdriver.Chrome, base: str) -> None:
        self.driver = driver
        self.base = base

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def until(self, condition: Callable[[], T | None], message: str = "") -> T:
        """The first truthy result of `condition` (stale elements retried)."""

        def attempt(_: Any) -> Any:
            try:
                return condition()
            except (StaleElementReferenceException, AssertionError):
                return False

        result: T = WebDriverWait(self.driver, WAIT, poll_frequency=0.1).until(attempt, message)
        return result

    def find(self, css: str) -> WebElement:
        return self.until(lambda: self.driver.find_element(By.CSS_SELECTOR, css), f"no {css}")

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text_of(self, css: str) -> str:
        elements = self.all(css)
        return elements[0].text if elements else ""

    def wait_text(self, css: str, text: str) -> WebElement:
        """The element matching `css` once its text contains `text`."""

        def found() -> WebElement | None:
            for element in self.all(css):
                if text in element.text:
                    return element
            return None

        return self.until(found, f"{text!r} never appeared in {css}: {self.text_of('main')!r}")

    def button(self, label: str, within: str = "main") -> WebElement:
        """The button whose accessible label (aria-label, else its text) is `label`."""

        def found() -> WebElement | None:
            for element in self.all(f"{within} button"):
                if (element.get_attribute("aria-label") or element.text) == label and element.is_enabled():
                    return element
            return None

        return self.until(found, f"no button {label!r}")

    def fill(self, css: str, value: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(value)

    def login(self, user: str, password: str) -> None:
        self.open("/ui/login")
        self.fill("input[name=username]", user)
        self.fill("input[name=password]", password)
        self.find("form.login button[type=submit]").click()

    def logged_in(self, user: str, password: str) -> None:
        """Logged in as `user` (once per tab session)."""
        if self.token() is None:
            self.login(user, password)
            self.find("#logout")

    def token(self) -> str | None:
        saved = self.driver.execute_script("return sessionStorage.getItem('tether.session')")
        if not saved:
            return None
        import json

        token: str = json.loads(saved)["token"]
        return token

    def mark(self) -> None:
        """Mark the page: `unreloaded()` is true while the same document is shown (no reload since)."""
        self.driver.execute_script("window.__tetherMark = 1")

    def unreloaded(self) -> bool:
        return bool(self.driver.execute_script("return window.__tetherMark === 1"))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def errors(self) -> list[str]:
        """The browser console's errors so far (a failed request the test provoked shows up here too)."""
        try:
            log = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
            return [e["message"] for e in log if e["level"] == "SEVERE"]
        except WebDriverException:
            return []
