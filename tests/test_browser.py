"""End to end in headless Chromium (Debian's, driven by Playwright; nothing is downloaded at test time)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from conftest import PASSWORD

CHROMIUM = os.environ.get("KB_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# Without these, Chromium keeps trying to reach Google's services, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"Chromium not found at {CHROMIUM}: install it with `sudo apt install chromium` (Debian/Ubuntu)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def live_server(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(chromium_path: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_sales_user_signs_in_and_sees_the_home_page(live_server: str, page, make_user) -> None:
    user = make_user("sales", display_name="Иван Петров")
    page.goto(f"{live_server}/")
    assert "/login" in page.url
    _shot(page, "login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server}/")
    assert page.locator("h1").inner_text() == "Hello, Иван Петров"
    assert page.locator(".main-nav").is_visible()
    assert page.locator("text=Users").count() == 0  # no admin link for sales
    _shot(page, "home-sales")

    page.click("button[value=ru]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Здравствуйте, Иван Петров"

    page.click(".bar-end button.link")
    page.wait_for_url(f"{live_server}/login")
    page.goto(f"{live_server}/")
    assert "/login" in page.url


def test_admin_creates_a_user_in_the_browser(live_server: str, page, make_user) -> None:
    admin = make_user("admin")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server}/")
    page.click(".main-nav >> text=Users")
    # An e-mail that is taken: only the server can tell; its message stands beside the field.
    page.fill("#new-user input[name=email]", admin.email)
    page.fill("#new-user input[name=display_name]", "Новый Сотрудник")
    page.select_option("#new-user select[name=role]", "sales")
    page.fill("#new-user input[name=password]", "long enough password")
    page.click("#new-user button[type=submit]")
    assert "already exists" in page.locator("#new-user .field.has-error .error").inner_text()
    assert page.locator("#new-user input[name=display_name]").input_value() == "Новый Сотрудник"
    page.fill("#new-user input[name=email]", "new.rep@example.com")
    page.fill("#new-user input[name=password]", "long enough password")
    page.click("#new-user button[type=submit]")
    page.wait_for_url(f"{live_server}/admin/users")
    assert page.locator("text=new.rep@example.com").count() >= 1
    _shot(page, "admin-users")
    # Deactivating asks first; a temporary password is shown once.
    row = page.locator("tr", has_text="new.rep@example.com")
    row.locator("summary", has_text="Deactivate").click()
    confirm = row.locator("details.confirm form")
    assert confirm.is_visible() and "signed out everywhere" in confirm.inner_text()
    _shot(page, "admin-deactivate-confirm")
    row.locator("button", has_text="Set temporary password").click()
    assert len(page.inner_text("#temporary-password code")) == 19
    row = page.locator("tr", has_text="new.rep@example.com")
    row.locator("summary", has_text="Deactivate").click()
    row.locator("details.confirm button.danger").click()
    page.wait_for_selector("tr.muted:has-text('new.rep@example.com')")  # the page after the form's answer
    assert page.locator("tr.muted", has_text="new.rep@example.com").count() == 1


#: The main pages of the three faces (and the admin's), walked at both widths in both languages.
MAIN_PAGES = (
    "/", "/search?q=насос", "/assets", "/assets/new", "/assets/import", "/freshness", "/reports/staleness",
    "/reports/content", "/synonyms", "/notifications", "/profile", "/admin/users", "/admin/jobs", "/admin/vocabularies",
    "/admin/audit",
)  # fmt: skip
#: Measured in the page: how wide the document is, and the first elements that stick out of the window
#: (outside any box that scrolls on its own).
_OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth, out = [];
  const clipped = (el) => { for (let a = el.parentElement; a; a = a.parentElement)
    if (getComputedStyle(a).overflowX !== 'visible') return true; return false; };
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 && !clipped(el)) out.push(el.tagName.toLowerCase() + '.' + el.className);
  }
  return {scroll: document.documentElement.scrollWidth, out: out.slice(0, 5)};
}"""


def test_no_main_page_scrolls_sideways_at_1280_or_390_px_in_either_language(
    live_server: str, page, make_user, app
) -> None:
    from kb import feedback
    from publishing_helpers import fields, publisher_for, text_upload, worker_for

    admin = make_user("admin", display_name="Администратор Системы")
    owner = make_user("marketing", display_name="Мария Смирнова")
    sales = make_user("sales")
    publisher = publisher_for(app)
    long_title = "Я" * 300  # a title with no space to break at
    long = publisher.create_asset(owner.id, fields(owner, title=long_title), text_upload("насос " + "Я" * 400))
    catalog = publisher.create_asset(
        owner.id, fields(owner, title="Каталог насосов НВ-250/4 для водоканалов и промышленных предприятий"),
        text_upload("# Насосы\n\nНВ-250/4: подача 250 м³/ч, напор 32 м."),
    )  # fmt: skip
    worker_for(app).run_until_idle()
    feedback.raise_flag(app.extensions["kb_db"], sales.id, catalog.asset_id, "prices_outdated", comment="Цены 2025")
    _sign_in(page, live_server, admin.email)
    wide: list[str] = []
    for language in ("ru", "en"):
        page.set_viewport_size({"width": 1280, "height": 844})
        page.goto(f"{live_server}/profile")
        page.click(f"form.lang-switch button[value={language}]")
        page.wait_for_load_state()
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 844})
            for path in (*MAIN_PAGES, f"/assets/{long.asset_id}", f"/assets/{catalog.asset_id}"):
                page.goto(f"{live_server}{path}")
                measured = page.evaluate(_OVERFLOW_JS)
                if measured["scroll"] > width or measured["out"]:
                    wide.append(f"{language} {width}px {path}: {measured['scroll']}px {measured['out']}")
                name = path.strip("/").replace("/", "-").split("?")[0] or "home"
                _shot(page, f"walk-{language}-{width}-{name}")
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{live_server}/assets/import")
        lines = "a => { const r = document.createRange(); r.selectNodeContents(a); return r.getClientRects().length; }"
        tabs = page.evaluate(f"() => [...document.querySelectorAll('.tabs a')].map({lines})")
        assert tabs and set(tabs) == {1}, tabs  # each tab on one line: none breaks inside a word
    assert not wide, "pages wider than the window:\n" + "\n".join(wide)
    page.goto(f"{live_server}/assets/{long.asset_id}")
    assert page.inner_text("h1") == long_title  # broken over lines, not cut


def test_marketing_publishes_an_asset_and_a_new_version(live_server: str, page, make_user, app) -> None:
    from publishing_helpers import worker_for

    user = make_user("marketing", display_name="Мария Смирнова")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server}/")

    page.click(".main-nav >> text=Publish")
    page.set_input_files(
        "input[name=file]",
        files=[
            {
                "name": "Каталог НВ 2026.md",
                "mimeType": "text/markdown",
                "buffer": "# Каталог\n\nНВ-250/4: 120 000 ₽".encode(),
            }
        ],
    )
    page.fill("input[name=title]", "Каталог насосов НВ 2026")
    page.select_option("select[name=kind]", "catalog")
    page.fill("input[name=product]", "Насосы НВ")
    page.check("input[name=segments][value=B2G]")
    page.fill("input[name=tags]", "насосы, НВ-250/4")
    page.click("button[value=save]")
    page.wait_for_selector("h1:has-text('Каталог насосов НВ 2026')")
    worker_for(app).run_until_idle()

    page.click("text=New version")
    page.set_input_files(
        "input[name=file]",
        files=[
            {
                "name": "Каталог НВ 2026 v2.md",
                "mimeType": "text/markdown",
                "buffer": "# Каталог\n\nНВ-250/4: 128 000 ₽".encode(),
            }
        ],
    )
    page.fill("input[name=change_note]", "Цены обновлены: НВ-250/4 +7%")
    page.click("button[type=submit].primary")
    page.wait_for_selector("text=Version 2 is published.")
    worker_for(app).run_until_idle()
    page.reload()
    rows = page.locator("table.versions tbody tr")
    assert rows.count() == 2
    assert "Цены обновлены" in rows.nth(0).inner_text()
    _shot(page, "asset-two-versions")

    page.click("table.versions + button, button:has-text('What changed')")
    page.wait_for_selector("ol.diff")
    assert "128 000" in page.locator(".diff-added").first.inner_text()
    _shot(page, "asset-changes")


def test_sales_searches_filters_and_opens_the_hit_at_its_page(live_server: str, page, make_user, app) -> None:
    import io

    from kb.publishing import FileUpload
    from publishing_helpers import fields, publisher_for, worker_for
    from search_helpers import SearchIndex

    owner = make_user("marketing")
    publisher = publisher_for(app)
    import fixtures_files as F

    pdf = F.make_pdf(
        app.config["KB_SETTINGS"].instance_dir / "deck.pdf",
        ["Общая информация о компании", "Каталог моделей: НВ-250/4"],
    )
    with pdf.open("rb") as handle:
        publisher.create_asset(
            owner.id,
            fields(owner, title="Презентация насосов НВ", kind="presentation"),
            FileUpload(handle, "Презентация.pdf"),
        )
    publisher.create_asset(
        owner.id, fields(owner, title="Каталог НВ"), FileUpload(io.BytesIO("Каталоги насосов НВ".encode()), "c.md")
    )
    worker_for(app).run_until_idle()
    SearchIndex.close_all()

    user = make_user("sales")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server}/")
    page.fill("#header-q", "каталогами")  # another grammatical form than in the text
    page.press("#header-q", "Enter")
    page.wait_for_selector("article.result")
    assert page.locator("article.result").count() == 2
    page.click(".facets >> text=Presentation")
    page.wait_for_selector("article.result")
    assert page.locator("article.result").count() == 1
    _shot(page, "search-filtered")
    page.click("ul.page-hits a")
    page.wait_for_selector("h1:has-text('Презентация насосов НВ')")
    assert "page=2" in page.url
    assert page.locator("iframe.pdf").get_attribute("src").endswith("#page=2")  # the PDF opens at that page
    SearchIndex.close_all()


def _sign_in(page, live_server: str, email: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server}/")


def _sign_out(page) -> None:
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login**")


def test_flag_reaches_the_queue_and_the_fix_reaches_the_flagger(live_server: str, page, make_user, app) -> None:
    from publishing_helpers import fields, publisher_for, text_upload, worker_for

    owner = make_user("marketing", display_name="Мария Смирнова")
    sales = make_user("sales", display_name="Иван Петров")
    publisher = publisher_for(app)
    calm = publisher.create_asset(owner.id, fields(owner, title="Презентация компрессоров"), text_upload("KX-200"))
    catalog = publisher.create_asset(owner.id, fields(owner, title="Каталог насосов НВ"), text_upload("НВ-250/4"))
    worker_for(app).run_until_idle()
    assert calm.asset_id != catalog.asset_id

    # Sales flag the catalog: prices outdated.
    _sign_in(page, live_server, sales.email)
    page.goto(f"{live_server}/assets/{catalog.asset_id}")
    page.click("summary:has-text('Flag as outdated')")
    page.select_option("select[name=reason]", "prices_outdated")
    page.fill("#flag-comment", "В каталоге цены 2025 года")
    page.fill("#flag-page", "1")
    page.click("button:has-text('Send flag')")
    page.wait_for_selector("text=Flagged as outdated.")
    assert "1 open flag" in page.inner_text(".badges")
    _shot(page, "asset-flagged")
    _sign_out(page)

    # Marketing see it at the top of their queue, with its reason, and publish a new version from there.
    _sign_in(page, live_server, owner.email)
    assert page.inner_text(".unread-count") == "1"
    page.click(".main-nav >> text=Freshness queue")
    first = page.locator(".queue-item").first
    assert "Каталог насосов НВ" in first.inner_text()
    assert "1 open flag (prices outdated)" in first.inner_text()
    _shot(page, "freshness-queue")
    first.locator("text=Upload a new version").click()
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "Каталог НВ v2.md", "mimeType": "text/markdown", "buffer": "НВ-250/4: 128 000 ₽".encode()}],
    )
    page.fill("input[name=change_note]", "Цены на 2026 год")
    page.click("button[type=submit].primary")
    page.wait_for_selector("text=Version 2 is published.")
    worker_for(app).run_until_idle()
    page.click(".main-nav >> text=Freshness queue")
    assert "Каталог насосов НВ" not in page.inner_text(".queue")
    _sign_out(page)

    # The salesperson hears of the fix, with the change note.
    _sign_in(page, live_server, sales.email)
    assert page.inner_text(".unread-count") == "1"
    page.click("a.bell")
    notification = page.locator(".notification").first
    assert "resolved by version 2" in notification.inner_text()
    assert "Цены на 2026 год" in notification.inner_text()
    _shot(page, "notifications")


def test_marketing_opens_the_report_filters_by_owner_and_downloads_the_csv(
    live_server: str, page, make_user, app
) -> None:
    import csv
    import io

    from publishing_helpers import fields, publisher_for, text_upload, worker_for

    maria = make_user("marketing", display_name="Мария Смирнова")
    andrei = make_user("marketing", display_name="Андрей Волков")
    publisher = publisher_for(app)
    publisher.create_asset(maria.id, fields(maria, title="Каталог насосов НВ"), text_upload("НВ-250/4"))
    publisher.create_asset(andrei.id, fields(andrei, title="Презентация KX"), text_upload("KX-200"))
    worker_for(app).run_until_idle()

    _sign_in(page, live_server, maria.email)
    page.click(".main-nav >> text=Staleness report")
    assert page.inner_text(".tile-health .number") == "100%"
    page.select_option("#r-owner", label="Андрей Волков")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**owner=*")
    assert "Презентация KX" in page.inner_text("#list") and "Каталог насосов НВ" not in page.inner_text("#list")
    _shot(page, "staleness-report")
    with page.expect_download() as download_info:
        page.click("text=Download CSV")
    path = download_info.value.path()
    rows = list(csv.DictReader(io.StringIO(Path(path).read_bytes().decode("utf-8-sig"))))
    assert [r["Asset"] for r in rows] == ["Презентация KX"] and rows[0]["Owner"] == "Андрей Волков"


def test_a_misspelt_search_is_corrected_and_a_synonym_added_on_the_page_works_at_once(
    live_server: str, page, make_user, app
) -> None:
    import io

    from kb.publishing import FileUpload
    from publishing_helpers import fields, publisher_for, worker_for
    from search_helpers import SearchIndex

    owner = make_user("marketing")
    publisher_for(app).create_asset(
        owner.id,
        fields(owner, title="Шаблон: технико-коммерческое предложение"),
        FileUpload(io.BytesIO("Коммерческое предложение на поставку теплообменников".encode()), "tkp.md"),
    )
    worker_for(app).run_until_idle()
    SearchIndex.close_all()

    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", owner.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server}/")
    page.fill("#header-q", "ntgkjj,vtyybrb")  # "теплообменники" typed on the Latin layout
    page.press("#header-q", "Enter")
    page.wait_for_selector("article.result")
    assert "теплообменник" in page.locator(".correction .corrected-query").inner_text()
    _shot(page, "search-corrected")
    page.click("a.search-instead")
    page.wait_for_selector("p.empty")
    assert page.locator("article.result").count() == 0

    page.fill("#header-q", "ткп")
    page.press("#header-q", "Enter")
    page.wait_for_selector("p.empty")
    page.goto(f"{live_server}/synonyms")
    page.fill("#new-terms", "ТКП\nкоммерческое предложение")
    page.click("#add button[type=submit]")
    page.wait_for_selector(".flash-success")
    _shot(page, "synonyms")
    page.fill("#header-q", "ткп")
    page.press("#header-q", "Enter")
    page.wait_for_selector("article.result")  # the next search, no re-index in between
    assert page.locator("article.result h2 a").first.inner_text() == "Шаблон: технико-коммерческое предложение"

    letter = (
        "Добрый день! Наш завод планирует модернизацию котельной в следующем квартале. Просим прислать "
        "коммерческое предложение на поставку пластинчатых теплообменников с указанием сроков, гарантии и "
        "условий доставки до объекта. "
    ) * 60
    letter = letter[:10_000]  # the longest the search box takes: far too long for a URL
    page.fill("#header-q", letter)
    page.press("#header-q", "Enter")  # too long for a URL: the form posts it
    page.wait_for_selector("article.result")
    assert "/search" in page.url and "q=" not in page.url
    assert "the search read its beginning" in page.content()  # 4,000 characters are read, and it says so
    _shot(page, "search-long-text")
    SearchIndex.close_all()


def test_on_a_phone_the_page_starts_near_the_top_and_the_menu_opens_on_a_tap(
    live_server: str, page, make_user, app
) -> None:
    from publishing_helpers import fields, publisher_for, text_upload, worker_for

    owner = make_user("marketing", display_name="Мария Смирнова")
    sales = make_user("sales", display_name="Иван Петров")
    publisher = publisher_for(app)
    for n in range(6):
        publisher.create_asset(
            owner.id,
            fields(owner, title=f"Каталог насосов {n}", product=f"Насосы {n % 2}"),
            text_upload(f"# Насосы {n}\n\nНасос для водоканала, подача {n * 10} м³/ч.\n\n" + "Описание. " * 80),
        )
    worker_for(app).run_until_idle()
    _sign_in(page, live_server, sales.email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/")
    header = page.locator(".site-header").bounding_box()
    assert header is not None and header["height"] <= 80, header  # was 380 of 844 px
    assert not page.locator(".main-nav").is_visible()
    page.click(".menu-toggle")
    assert page.locator(".main-nav").is_visible()
    assert page.locator(".menu-toggle").get_attribute("aria-expanded") == "true"
    _shot(page, "phone-menu-open")
    page.click(".main-nav >> text=Library")
    page.wait_for_url(f"{live_server}/assets")

    page.goto(f"{live_server}/search?q=насос")
    first_hit = page.locator(".results article.result").first.bounding_box()
    facets = page.locator("#facets").bounding_box()
    assert first_hit is not None and facets is not None
    assert first_hit["y"] < 844 and first_hit["y"] < facets["y"]  # results first, the filters after them
    assert page.locator(".jump-to-facets").is_visible()
    assert not page.locator(".site-header .search-box").is_visible()  # the page's own form is right there
    _shot(page, "phone-search")

    page.locator(".results article.result h2 a").first.click()
    page.wait_for_load_state()
    page_asset_id = page.url.split("/assets/")[1].split("?")[0]
    download = page.locator(".head-download a")
    box = download.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844, box  # Download in the first screen
    _shot(page, "phone-asset")
    # Stacked table cells say which column they are (the staleness report's list labels none in its template)
    page.goto(f"{live_server}/reports/staleness")
    cells = "document.querySelectorAll('table.report-list tbody tr:first-child td')"
    labels = page.evaluate(f"() => [...{cells}].map(td => td.dataset.label || '')")
    assert labels[0] == "" and all(labels[1:]) and "Owner" in labels, labels
    page.goto(f"{live_server}/assets/{page_asset_id}")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert not download.is_visible() and page.locator(".main-nav").is_visible()  # the desktop is as it was
    assert not page.locator(".menu-toggle").is_visible()


def test_the_upload_form_titles_after_the_file_and_offers_the_terms(live_server: str, page, make_user, app) -> None:
    from kb import vocabularies
    from publishing_helpers import fields, publisher_for, text_upload

    user = make_user("marketing")
    publisher_for(app).create_asset(user.id, fields(user, product="Насосы НВ", region="Урал"), text_upload("а"))
    vocabularies.set_closed(app.extensions["kb_db"], "product", True)
    _sign_in(page, live_server, user.email)
    page.goto(f"{live_server}/assets/new")
    markdown = {"mimeType": "text/markdown", "buffer": "# Прайс\n\nНВ-250/4: 120 000 ₽".encode()}
    page.set_input_files("input[name=file]", files=[{"name": "Прайс_лист-НВ  2026.md", **markdown}])
    assert page.input_value("input[name=title]") == "Прайс лист НВ 2026"  # filled as the file is chosen
    page.set_input_files("input[name=file]", files=[{"name": "Прайс НВ-250 v2.md", **markdown}])
    assert page.input_value("input[name=title]") == "Прайс НВ-250 v2"  # still the file's: follows the file
    page.fill("input[name=title]", "Прайс-лист насосов НВ")
    page.set_input_files("input[name=file]", files=[{"name": "другой.md", **markdown}])
    assert page.input_value("input[name=title]") == "Прайс-лист насосов НВ"  # typed by the person: kept
    options = page.locator("#product-terms option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == ["Насосы НВ"]
    assert page.get_attribute("input[name=product]", "list") == "product-terms"
    assert "Only values from the list" in page.inner_text(".field:has(input[name=product])")

    page.fill("input[name=product]", "НВ")
    page.click("button[value=save]")
    field = page.locator(".field.has-error:has(input[name=product])")
    assert "Did you mean “Насосы НВ”?" in field.inner_text()
    assert page.input_value("input[name=title]") == "Прайс-лист насосов НВ"
    assert "Kept from your last try: другой.md" in page.inner_text("form.card")
    _shot(page, "upload-closed-vocabulary")
    page.fill("input[name=product]", "насосы нв")
    page.click("button[value=save]")
    page.wait_for_selector("h1:has-text('Прайс-лист насосов НВ')")
    assert "Насосы НВ" in page.inner_text("main")


def test_without_scripts_the_server_titles_the_upload_after_its_file(live_server: str, make_user, app) -> None:
    from playwright.sync_api import sync_playwright

    user = make_user("marketing")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="en-US", java_script_enabled=False)
        try:
            page = context.new_page()
            _sign_in(page, live_server, user.email)
            page.goto(f"{live_server}/assets/new")
            page.set_input_files(
                "input[name=file]",
                files=[{"name": "Памятка_по-тендерам.md", "mimeType": "text/markdown", "buffer": b"# 44"}],
            )
            assert page.input_value("input[name=title]") == ""
            page.click("button[value=save]")
            page.wait_for_selector("h1:has-text('Памятка по тендерам')")
        finally:
            context.close()
            browser.close()


def test_an_admin_merges_two_spellings_and_closes_the_list(live_server: str, page, make_user, app) -> None:
    from publishing_helpers import fields, publisher_for, text_upload

    admin = make_user("admin")
    owner = make_user("marketing")
    publisher = publisher_for(app)
    publisher.create_asset(owner.id, fields(owner, product="НВ"), text_upload("а"))
    publisher.create_asset(owner.id, fields(owner, product="Насосы НВ"), text_upload("б"))
    _sign_in(page, live_server, admin.email)
    page.click(".main-nav >> text=Vocabularies")
    products = page.locator("section#product")
    assert products.locator("table.terms tbody tr").count() == 2
    _shot(page, "vocabularies")
    products.locator("select[name=source_id]").select_option(label="НВ (1)")
    products.locator("select[name=target_id]").select_option(label="Насосы НВ (1)")
    products.locator(".vocabulary-merge button[type=submit]").click()
    page.wait_for_selector("text=Merged into “Насосы НВ”; 1 asset moved to it.")
    products = page.locator("section#product")
    assert products.locator("table.terms tbody tr").count() == 1
    assert "2" in products.locator("table.terms tbody tr").inner_text()

    row = products.locator("tr", has_text="Насосы НВ")
    row.locator("summary", has_text="Change").click()
    row.locator("input[name=value]").fill("Насосы серии НВ")
    row.locator("button", has_text="Rename").click()
    page.wait_for_selector("text=Renamed to “Насосы серии НВ”; 2 assets changed with it.")

    products = page.locator("section#product")
    products.locator("text=Only values from this list").click()
    products.locator(".vocabulary-closed button[type=submit]").click()
    page.wait_for_selector("text=publishing now accepts only values from this list")
    assert page.locator("section#product input[name=closed][value='1']").is_checked()
    _shot(page, "vocabularies-closed")


def _gif_bytes() -> bytes:
    """A real GIF picture (a GIF header and zeros alone would be read as text with NUL bytes, which kb takes)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(buffer, format="GIF")
    return buffer.getvalue()


def test_marketing_imports_several_files_and_drops_more(live_server: str, page, make_user, app) -> None:
    """Several files chosen at once, two more dropped on the drop zone (one as from a dropped folder), a picture
    refused with its reason, the rest imported with links."""
    from sqlalchemy import select

    from kb.models import Asset

    user = make_user("marketing")
    _sign_in(page, live_server, user.email)
    page.click(".main-nav >> text=Publish")
    page.click(".tabs >> text=Import many files")
    page.wait_for_url(f"{live_server}/assets/import")
    markdown = {"mimeType": "text/markdown"}
    page.set_input_files(
        "#files",
        files=[
            {"name": "Каталог_насосов-НВ.md", **markdown, "buffer": "# Насосы НВ\n\nПодача 250 м³/ч".encode()},
            {"name": "Условия поставки.md", **markdown, "buffer": "# Условия\n\nДоставка 14 дней".encode()},
            # a picture kb does not take (PNG, JPEG and TIFF it does: scans, read by OCR)
            {"name": "фото.gif", "mimeType": "image/gif", "buffer": _gif_bytes()},
        ],
    )
    assert page.evaluate("document.querySelector('#files').files.length") == 3
    # A drop: the files join those chosen; one comes from a dropped folder, with its folder in its name.
    page.evaluate(
        """() => {
          const zone = document.querySelector('[data-drop-zone]');
          const transfer = new DataTransfer();
          transfer.items.add(new File(['# Прайс'], 'Прайс.md', {type: 'text/markdown'}));
          transfer.items.add(new File(['# Буклет'], 'Папка/Буклет.md', {type: 'text/markdown'}));
          zone.dispatchEvent(new DragEvent('dragenter', {dataTransfer: transfer, bubbles: true, cancelable: true}));
          zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }"""
    )
    page.wait_for_function("document.querySelector('#files').files.length === 5")
    page.select_option("select[name=kind]", "datasheet")
    page.check("input[name=segments][value=B2B]")
    _shot(page, "import-form")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#imported")
    imported = page.locator("#imported tbody tr")
    assert imported.count() == 4
    assert "Папка/Буклет.md" in page.locator("#imported").inner_text()
    refused = page.locator("#refused tbody tr")
    assert refused.count() == 1 and "фото.gif" in refused.inner_text()
    assert "This file is not a type kb accepts." in refused.inner_text()
    assert "4 new files are still being indexed" in page.locator(".notice.indexing").inner_text()
    _shot(page, "import-result")
    page.locator("#imported a", has_text="Каталог насосов НВ").click()
    page.wait_for_selector("h1:has-text('Каталог насосов НВ')")
    with app.extensions["kb_db"].session() as session:
        kinds = set(session.scalars(select(Asset.kind)))
    assert kinds == {"datasheet"}


def test_an_admin_filters_the_audit_log_and_downloads_it_as_csv(live_server: str, page, make_user, app) -> None:
    import csv
    import io

    from publishing_helpers import fields, publisher_for, text_upload

    owner = make_user("marketing")
    published = publisher_for(app).create_asset(owner.id, fields(owner, title="Прайс дилеров"), text_upload("Цены"))
    sales = make_user("sales")
    admin = make_user("admin")
    _sign_in(page, live_server, sales.email)
    page.goto(f"{live_server}/assets/{published.asset_id}")
    with page.expect_download():
        page.locator(f"a[href$='/assets/{published.asset_id}/versions/1/download']:visible").first.click()
    _sign_out(page)

    _sign_in(page, live_server, admin.email)
    page.click(".main-nav >> text=Audit log")
    page.select_option("#audit-action", value="download")
    page.fill("#audit-person", sales.email.split("@")[0].upper())
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url("**action=download**")
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1 and "Прайс дилеров · v1" in rows.inner_text() and sales.email in rows.inner_text()
    _shot(page, "audit-log")
    with page.expect_download() as download_info:
        page.click("#audit-export")
    text = Path(download_info.value.path()).read_bytes().decode("utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [(r["Action"], r["Who"], r["Subject"], r["Asset"]) for r in exported] == [
        ("Downloaded", sales.email, "Прайс дилеров · v1", str(published.asset_id))
    ]
    assert exported[0]["IP address"] == "127.0.0.1" and "Chrome" in exported[0]["Browser or program"]


@pytest.mark.slow
@pytest.mark.previews
def test_a_slide_found_by_search_opens_in_the_page_viewer_with_the_word_marked(
    live_server: str, page, app, make_user, tmp_path: Path
) -> None:
    import io

    from fixtures_files import make_pptx
    from kb.publishing import FileUpload
    from publishing_helpers import fields, publisher_for, worker_for

    owner = make_user("marketing")
    deck = make_pptx(
        tmp_path / "deck.pptx",
        [
            ("Насосы", "Линейка насосов", ""),
            ("Кривая", "Характеристика НВ-400: напор и подача", ""),
            ("Итог", "Спасибо", ""),
        ],
    )
    publisher_for(app).create_asset(
        owner.id, fields(owner, title="Презентация насосов"), FileUpload(io.BytesIO(deck.read_bytes()), deck.name)
    )
    worker_for(app).run_until_idle()

    sales = make_user("sales")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", sales.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/search?q=Характеристика")
    thumbnail = page.locator(".result-thumbnail img")
    assert thumbnail.count() == 1
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('.result-thumbnail img').naturalWidth > 0")
    _shot(page, "search-thumbnail")

    page.click(".result-thumbnail")
    page.wait_for_url("**/versions/1/pages/2?s=*")
    assert page.locator(".viewer-position").inner_text() == "Page 2 of 3"
    assert page.locator(".viewer-text mark").first.inner_text() == "Характеристика"
    page.wait_for_function("document.querySelector('.viewer-page img').naturalWidth > 0")
    _shot(page, "page-viewer")

    page.keyboard.press("ArrowRight")
    page.wait_for_url("**/pages/3?s=*")
    assert page.locator(".viewer-position").inner_text() == "Page 3 of 3"
    assert "Спасибо" in page.locator(".viewer-text").inner_text()
