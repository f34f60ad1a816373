"""A person's view: open the page in Chromium, send a prompt, watch the answer stream in."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from tests_e2e.conftest import ARTIFACTS, request_log_lines

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        yield page
        browser.close()


def test_a_person_sends_a_prompt_and_sees_a_streamed_answer(page, demo_app_url):
    page.goto(demo_app_url)
    expect(page.locator("h1")).to_have_text("Chat with the model served by KAITO")
    # Record every text the answer bubble shows, to see it grow piece by piece (not all at once).
    page.evaluate("""() => {
        window.answerTexts = [];
        new MutationObserver(() => {
            const answer = document.querySelector('.message.assistant');
            if (answer && answer.textContent) window.answerTexts.push(answer.textContent);
        }).observe(document.getElementById('conversation'), {subtree: true, childList: true, characterData: true});
    }""")
    page.fill("#prompt", "Name one colour of the rainbow.")
    page.keyboard.press("Enter")

    expect(page.locator(".message.user")).to_have_text("Name one colour of the rainbow.")
    answer = page.locator(".message.assistant").last
    expect(answer).to_have_attribute("data-state", "done", timeout=120_000)
    assert answer.inner_text().strip()
    seen = page.evaluate("window.answerTexts")
    assert len(set(seen)) > 1, "the answer appeared in one piece instead of streaming"
    assert seen[-1] == answer.text_content() and all(seen[-1].startswith(text) for text in seen)
    expect(page.locator(".message.error")).to_have_count(0)
    expect(page.locator("#send")).to_be_enabled()
    page.screenshot(path=str(ARTIFACTS / "chat.png"))

    # A second question carries the conversation: the page keeps it, the app forwards it.
    page.fill("#prompt", "And another one?")
    page.keyboard.press("Enter")
    expect(page.locator(".message.assistant").last).to_have_attribute("data-state", "done", timeout=120_000)
    chats = [line for line in request_log_lines() if line.get("path") == "/api/chat"]
    assert chats[-1]["messages"] == 3 and chats[-1]["status"] == 200


def test_the_page_shows_the_apps_error_for_an_oversize_message(page, demo_app_url):
    page.goto(demo_app_url)
    page.evaluate("document.getElementById('prompt').removeAttribute('maxlength')")
    page.fill("#prompt", "x" * 4001)
    page.keyboard.press("Enter")
    expect(page.locator(".message.error")).to_contain_text("at most 4000")
    expect(page.locator("#send")).to_be_enabled()
