"""A person's view: open the page in Chromium, send a prompt, watch the answer stream in."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.fake_openai import FakeOpenAI, Script
from tests_e2e.conftest import ARTIFACTS, demo_app_against, request_log_lines

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
    expect(page.locator("#model")).to_have_text("Model: smollm2-135m-instruct")
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
    # The reply is re-rendered as Markdown while it grows, so only the last state is the whole answer.
    assert seen[-1] == answer.text_content()
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


HOSTILE_REPLY = [
    "Here is **bold** and *italic* and `code`.\n\n",
    "- one\n- two\n\n",
    "```\nprint('hi')\n```\n\n",
    '<img src="x" onerror="window.pwned = 1"> <script>window.pwned = 2</script> [link](javascript:alert(1))',
]


@pytest.fixture(scope="module")
def app_with_markdown_model():
    """The demo app in front of a scripted model whose reply mixes Markdown with HTML that must not run."""
    with FakeOpenAI(Script(models=["scripted-markdown"], reply_pieces=HOSTILE_REPLY)) as model:
        with demo_app_against(model.base_url, "demo-app-markdown.log") as url:
            yield url


def test_markdown_is_rendered_and_html_in_a_reply_stays_text(page, app_with_markdown_model):
    page.goto(app_with_markdown_model)
    expect(page.locator("#model")).to_have_text("Model: scripted-markdown")
    page.fill("#prompt", "Show me some formatting.")
    page.keyboard.press("Enter")
    answer = page.locator(".message.assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer.locator("strong")).to_have_text("bold")
    expect(answer.locator("em")).to_have_text("italic")
    expect(answer.locator("ul li")).to_have_count(2)
    expect(answer.locator("pre code")).to_have_text("print('hi')")
    expect(answer.locator(".answered-by")).to_have_text("— scripted-markdown")
    assert answer.locator("img, script, a").count() == 0
    assert '<img src="x" onerror=' in answer.text_content()
    assert page.evaluate("window.pwned") is None
    page.screenshot(path=str(ARTIFACTS / "chat-markdown.png"))


def test_new_chat_clears_the_conversation_and_starts_afresh(page, app_with_markdown_model):
    page.goto(app_with_markdown_model)
    page.fill("#prompt", "First question")
    page.keyboard.press("Enter")
    expect(page.locator(".message.assistant").last).to_have_attribute("data-state", "done")
    page.click("#clear")
    expect(page.locator("#conversation .message")).to_have_count(0)
    page.fill("#prompt", "Second question")
    page.keyboard.press("Enter")
    expect(page.locator(".message.assistant").last).to_have_attribute("data-state", "done")
    expect(page.locator(".message.user")).to_have_count(1)
    chats = [line for line in request_log_lines("demo-app-markdown.log") if line.get("path") == "/api/chat"]
    assert chats[-1]["messages"] == 1  # the cleared question was not sent again
