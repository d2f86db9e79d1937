"""The studio in headless Chromium: the page (opened from its tokened URL) renders what the state machine
renders, the controls change it, and a capture is reproduced by `stylegan generate --settings`; a page from
another loopback port cannot drive it. Skips when Chromium or Playwright is absent."""
import base64
import http.server
import io
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner
from conftest import DATA

import stylegan
from stylegan.cli import cli
from stylegan.latent import style_ranges
from stylegan.latent.settings import Direction, Settings, render_settings
from stylegan.studio.session import Session

SG2 = DATA / "tf_sg2_skip_resnet_32.pkl"
SG3 = DATA / "sg3r_32.pkl"
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    pytest.importorskip("uvicorn", reason="the studio extra is not installed")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def studio(tmp_path):
    from stylegan.studio.server import Studio
    server = Studio(Session([str(SG2)], outdir=tmp_path / "captures"))
    yield server
    server.stop()


def _decode(data_url: str) -> np.ndarray:
    with PIL.Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))) as image:
        return np.asarray(image)


def _png(path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image)


def wait_for(page, expression: str, timeout: float = 60) -> None:
    """Poll a JavaScript expression until it is true (the page's CSP forbids the eval that
    `wait_for_function` needs)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.02)


class Page:
    """The studio page with helpers that act and then wait until the newest frame has arrived."""

    def __init__(self, page):
        self.page = page

    def frames(self) -> int:
        return int(self.page.evaluate("window.studio ? window.studio.frames : 0"))

    def act(self, action) -> None:
        before = self.frames()
        action()
        wait_for(self.page, f"window.studio && window.studio.frames > {before} && "
                            "document.body.dataset.idle === '1'")

    def set_value(self, selector: str, value, event: str) -> None:
        self.act(lambda: self.page.eval_on_selector(
            selector, f"(el, v) => {{ el.value = v; el.dispatchEvent(new Event('{event}')); }}", str(value)))

    def image(self) -> np.ndarray:
        return _decode(self.page.get_attribute("#frame", "src"))

    def broken_images(self) -> list[str]:
        """The ids of images on show that have nothing to show (a broken-image icon with its alt text)."""
        return self.page.evaluate("[...document.images].filter((i) => i.getClientRects().length > 0 && "
                                  "(!i.complete || i.naturalWidth === 0)).map((i) => i.id)")

    def layer_view_shown(self) -> bool:
        return self.page.is_visible("#activations") and self.page.is_visible("#spectrum")


@pytest.mark.filterwarnings("ignore:VGG16")
def test_studio_page_end_to_end(browser, studio, tmp_path):
    G = stylegan.load(SG2)

    def expected(**kw):
        return render_settings(G, Settings(**kw))[0]
    page = Page(browser.new_page(viewport={"width": 1300, "height": 1400}))
    assert "/?token=" in studio.url
    page.act(lambda: page.page.goto(studio.url))
    assert page.page.url == studio.url.split("?")[0]  # the token left the address bar for a cookie
    assert not page.layer_view_shown() and page.broken_images() == []  # no layer chosen: nothing shown
    cookie, = page.page.context.cookies()
    assert (cookie["value"], cookie["httpOnly"], cookie["sameSite"]) == (studio.token, True, "Strict")
    assert np.array_equal(page.image(), expected(seed=0))
    assert "ms render" in page.page.inner_text("#perf") and "cpu" in page.page.inner_text("#perf")

    page.set_value("#seed", 5, "change")
    assert np.array_equal(page.image(), expected(seed=5))

    box = page.page.locator("#pad").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.page.mouse.move(x, y)
    page.page.mouse.down()
    page.act(lambda: page.page.mouse.move(x + 10, y))  # 40 px per seed: a quarter of the way to seed 4
    page.page.mouse.up()
    assert page.page.inner_text("#pad-pos") == "x 4.75, y 0.00"
    assert np.array_equal(page.image(), expected(seed=5, dx=-0.25))
    page.set_value("#seed", 5, "change")

    page.act(lambda: page.page.check("#mix-on"))
    page.act(lambda: page.page.check("#mix-layers input[data-index='0']"))
    mixed = expected(seed=5, mix_seed=1, mix_layers=[0])
    assert np.array_equal(page.image(), mixed) and not np.array_equal(mixed, expected(seed=5))
    page.act(lambda: page.page.click("button[data-preset='fine']"))
    assert np.array_equal(page.image(), expected(seed=5, mix_seed=1, mix_layers=style_ranges(G)["fine"]))
    page.act(lambda: page.page.click("button[data-preset='none']"))

    page.set_value("#psi", 0.5, "input")
    assert page.page.inner_text("#psi-value") == "0.5"
    assert np.array_equal(page.image(), expected(seed=5, mix_seed=1, psi=0.5))

    page.act(lambda: page.page.check("#mix-layers input[data-index='2']"))
    page.page.click("#component-add")
    page.set_value("#directions input[type=range]", 2, "input")
    sefa = [Direction("sefa", 0, 2.0, "all")]
    page.act(lambda: page.page.select_option("#layer", "b8.conv1"))
    assert page.page.get_attribute("#activations", "src").startswith("data:image/png")
    assert page.page.inner_text("#layer-table tr.chosen").startswith("b8.conv1")
    assert page.layer_view_shown() and page.broken_images() == []
    page.act(lambda: page.page.select_option("#layer", ""))
    assert not page.layer_view_shown() and page.broken_images() == []

    page.page.click("#capture")
    wait_for(page.page, "document.getElementById('capture-result').dataset.json")
    png = page.page.get_attribute("#capture-result", "data-png")
    settings = page.page.get_attribute("#capture-result", "data-json")
    shown = page.image()
    assert np.array_equal(_png(png), shown)
    assert np.array_equal(shown, expected(seed=5, mix_seed=1, mix_layers=[2], psi=0.5, directions=sefa))
    assert Path(png).with_suffix(".npz").is_file()
    result = CliRunner().invoke(cli, ["generate", "--settings", settings, "--outdir", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert np.array_equal(_png(tmp_path / "cli" / (Path(settings).stem + ".png")), _png(png))

    (tmp_path / "notes.txt").write_text("not an image")
    page.page.set_input_files("#project-file", str(tmp_path / "notes.txt"))
    page.page.click("#project-start")
    wait_for(page.page, "document.getElementById('message').textContent.includes('not a readable image')")
    target = np.random.RandomState(0).randint(0, 255, (40, 48, 3), dtype=np.uint8)
    PIL.Image.fromarray(target).save(tmp_path / "target.png")
    page.page.set_input_files("#project-file", str(tmp_path / "target.png"))
    page.page.fill("#project-steps", "2")
    page.act(lambda: page.page.click("#project-start"))
    assert page.page.inner_text("#project-status").startswith("done")
    assert page.page.get_attribute("#project-progress", "value") == "2"
    projected = page.page.evaluate("window.studio.settings.ws_file")
    assert np.array_equal(page.image(), expected(ws_file=projected, mix_seed=1, mix_layers=[2], psi=0.5,
                                                 directions=sefa))

    assert page.page.is_hidden("#transform")
    page.page.fill("#network-path", str(SG3))
    page.act(lambda: page.page.click("#network-load"))
    assert page.page.is_visible("#transform") and page.page.input_value("#seed") == "5"
    G3 = stylegan.load(SG3)
    kept = dict(seed=5, mix_seed=1, mix_layers=[2], psi=0.5, directions=sefa)  # the projected ws do not fit
    assert np.array_equal(page.image(), render_settings(G3, Settings(**kept))[0])
    page.set_value("#tx", 0.25, "input")
    page.act(lambda: page.page.check("#untransform"))
    moved = render_settings(G3, Settings(**kept, translate=(0.25, 0.0), untransform=True))[0]
    assert np.array_equal(page.image(), moved)

    page.page.fill("#network-path", str(DATA / "missing.pkl"))
    page.page.click("#network-load")
    wait_for(page.page, "document.getElementById('message').textContent.includes('no such checkpoint')")
    page.page.fill("#network-path", str(tmp_path / "elsewhere.pkl"))
    page.page.click("#network-load")
    wait_for(page.page, "document.getElementById('message').textContent.includes('outside the folders')")
    page.page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)
    assert (tmp_path / "studio.png").stat().st_size > 0


ATTACK = """<!doctype html><html><body>
<form id="form" method="POST" action="STUDIO/api/network?token=TOKEN" enctype="text/plain">
<input name='{"network": "NETWORK", "x": "' value='"}'></form>
<script>
async function attack() {
  const body = JSON.stringify({settings: {network: "NETWORK"}});
  const results = [];
  for (const [url, init] of [
    ["STUDIO/api/capture", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body}],
    ["STUDIO/api/capture?token=TOKEN", {method: "POST", headers: {"Content-Type": "application/json"}, body}],
  ]) {
    try { const answer = await fetch(url, init); results.push(`${answer.type} ${answer.status}`); }
    catch (err) { results.push("failed"); }
  }
  return results;
}
</script></body></html>"""


@pytest.fixture
def attacker(studio):
    """A page served from another loopback port that knows the studio's address and even its token."""
    page = (ATTACK.replace("STUDIO", studio.url.split("/?")[0]).replace("TOKEN", studio.token)
            .replace("NETWORK", str(SG3))).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()


def test_another_site_cannot_drive_the_studio(browser, studio, attacker):
    context = browser.new_context()
    own = Page(context.new_page())
    own.act(lambda: own.page.goto(studio.url))  # the user has the studio open: its cookie is in the browser
    session = studio.session
    networks, loaded = list(session.networks), list(session._models)
    page = context.new_page()
    answers = []
    page.on("response", lambda r: answers.append((r.request.method, r.url, r.status))
            if f":{studio.port}/" in r.url else None)
    page.goto(attacker)
    results = page.evaluate("attack()")
    assert results == ["opaque 0", "failed"]  # no-cors: refused unseen; JSON: its preflight is refused
    with page.expect_navigation():
        page.evaluate("document.getElementById('form').submit()")
    assert "requests from other sites are refused" in page.inner_text("body")
    assert {status for _, _, status in answers} == {403}
    assert sorted(url.split("/api/")[1].split("?")[0] for method, url, _ in answers if method == "POST") == [
        "capture", "network"]
    assert (session.networks, list(session._models)) == (networks, loaded)
    assert not session.outdir.exists() or not any(session.outdir.iterdir())
    context.close()
