"""The explorer's page in a real browser: headless Chromium (Debian's) driven by Selenium.

The page is served by ``infogan_tf.serving.explorer`` from the real exported
SavedModel of the ``exported_model`` fixture. The tests drag a slider and
pick a category and check that the image shown is exactly what the
``generate`` signature, called directly, makes for the codes the page sent;
that a dragged slider is debounced; that an out-of-range value and a bad
upload show their message on the page; and an encode round trip (file ->
Q's codes -> regenerated image). .ci/run installs chromium and
chromium-driver; without them these tests fail (they are not skipped).
"""

import base64
import shutil
import socket
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from infogan_tf.serving.explorer.app import ExplorerServer
from infogan_tf.serving.explorer.backend import SavedModelBackend

pytestmark = pytest.mark.browser


class CountingBackend:
    """The SavedModel backend, counting the signature calls the page makes."""

    def __init__(self, inner):
        self._inner = inner
        self.info, self.metadata, self.name = inner.info, inner.metadata, inner.name
        self.version, self.source = inner.version, inner.source
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def run(self, signature, inputs):
        with self._lock:
            self.calls.append(signature)
        return self._inner.run(signature, inputs)


@pytest.fixture(scope="module")
def backend(exported_model):
    return CountingBackend(SavedModelBackend(exported_model.path))


@pytest.fixture(scope="module")
def server(backend):
    with ExplorerServer(backend) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.fail("the browser tests need Debian's chromium and chromium-driver (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def loaded(exported_model):
    return tf.saved_model.load(exported_model.path)


@pytest.fixture(scope="module")
def generate(loaded):
    fn = loaded.signatures["generate"]

    def call(shown):
        out = fn(
            z=tf.constant([shown["z"]], tf.float32),
            categorical=tf.constant([shown["categorical"]], tf.int32),
            continuous=tf.constant([shown["continuous"]], tf.float32),
        )
        return out["images_uint8"].numpy()[0]

    return call


def wait_idle(driver, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script("return Boolean(window.explorer && window.explorer.idle())"):
            return
        time.sleep(0.02)
    raise AssertionError(f"the page was still busy after {timeout} s: {driver.find_element('id', 'status').text}")


def shown_png(driver, element_id):
    src = driver.find_element("id", element_id).get_attribute("src")
    assert src.startswith("data:image/png;base64,")
    return tf.io.decode_png(base64.b64decode(src.split(",", 1)[1])).numpy()


def state(driver):
    return driver.execute_script("return window.explorer.state")


@pytest.fixture
def page(browser, server):
    """The page, loaded afresh for each test (so no test depends on another's state)."""
    browser.get(server.url)
    wait_idle(browser)
    return browser


def test_slider_and_category_steer_the_image_as_the_signature_makes_it(page, backend, generate, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    first = shown_png(page, "sample")
    np.testing.assert_array_equal(first, generate(state(page)["shown"]))
    assert state(page)["shown"]["continuous"] == [0, 0] and page.find_element("id", "status").text == ""

    # drag continuous code 1 to the right in 20 small moves: a few requests, not one per move
    slider = page.find_element("id", "cont-1")
    calls_before = len(backend.calls)
    drag = ActionChains(page, duration=0).click_and_hold(slider)
    for _ in range(20):
        drag = drag.move_by_offset(4, 0)
    drag.release().perform()
    wait_idle(page)
    moved = state(page)["shown"]
    assert 0.3 < moved["continuous"][1] <= 2.0 and moved["continuous"][0] == 0
    assert 1 <= len(backend.calls) - calls_before <= 6  # debounced
    after_drag = shown_png(page, "sample")
    assert not np.array_equal(after_drag, first)
    np.testing.assert_array_equal(after_drag, generate(moved))

    page.find_element("css selector", 'button[data-code="0"][data-category="7"]').click()
    wait_idle(page)
    picked = state(page)["shown"]
    assert picked["categorical"] == [7] and picked["continuous"] == moved["continuous"] and picked["z"] == moved["z"]
    image = shown_png(page, "sample")
    assert not np.array_equal(image, after_drag)
    np.testing.assert_array_equal(image, generate(picked))
    assert page.find_element("id", "download-image").get_attribute("href") == page.find_element(
        "id", "sample"
    ).get_attribute("src")

    # the traversal grid: 10 categories x 10 steps of 28x28 tiles; an out-of-range step count is shown on the page
    assert shown_png(page, "grid").shape == (10 * 29 + 1, 10 * 29 + 1, 1)
    steps = page.find_element("id", "grid-steps")
    steps.clear()
    steps.send_keys("40")
    page.find_element("id", "draw-grid").click()
    wait_idle(page)
    status = page.find_element("id", "status")
    assert status.text == "traversal grid: cols must be an integer in 2..25, got 40"
    assert "error" in status.get_attribute("class")
    steps.clear()
    steps.send_keys("4")
    page.find_element("id", "draw-grid").click()
    wait_idle(page)
    assert shown_png(page, "grid").shape == (10 * 29 + 1, 4 * 29 + 1, 1) and status.text == ""
    page.save_screenshot(str(tmp_path / "explorer.png"))


def test_encode_round_trip_and_a_bad_upload(page, loaded, generate, tmp_path):
    # an image file of another size and in colour: the image shown, upscaled to 84x84 RGB
    page.find_element("css selector", 'button[data-code="0"][data-category="4"]').click()
    wait_idle(page)
    current = shown_png(page, "sample")
    upscaled = np.repeat(np.repeat(np.repeat(current, 3, 0), 3, 1), 3, 2)
    upload = tmp_path / "digit.png"
    upload.write_bytes(tf.io.encode_png(upscaled).numpy())
    page.find_element("id", "upload").send_keys(str(upload))
    wait_idle(page)
    assert page.find_element("id", "encode-status").text == "Q's reading of digit.png:"
    encoded = state(page)["encoded"]
    unit = tf.image.rgb_to_grayscale(tf.constant(upscaled, tf.float32) / 255.0)
    resized = tf.clip_by_value(tf.image.resize(unit, (28, 28), antialias=True), 0.0, 1.0)
    want = loaded.signatures["encode"](images=resized[None])
    np.testing.assert_allclose(encoded["categorical_probs"], want["categorical_probs"].numpy()[0], atol=1e-5)
    np.testing.assert_allclose(encoded["continuous_mean"], want["continuous_mean"].numpy()[0], atol=1e-5)
    best = int(np.argmax(want["categorical_probs"].numpy()[0]))
    assert f"categorical code 0: category {best}" in page.find_element("id", "encoded-codes").text

    page.find_element("id", "regenerate").click()
    wait_idle(page)
    shown = state(page)["shown"]
    assert shown["categorical"] == [best]
    np.testing.assert_allclose(shown["continuous"], np.clip(encoded["continuous_mean"], -2, 2), atol=1e-12)
    np.testing.assert_array_equal(shown_png(page, "sample"), generate(shown))

    # a file that is not an image, dropped on the page: its message, and the page goes on working
    page.execute_script(
        """const dt = new DataTransfer();
        dt.items.add(new File(["not an image at all"], "notes.png", {type: "image/png"}));
        document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));"""
    )
    wait_idle(page)
    message = page.find_element("id", "encode-status")
    assert message.text.startswith("notes.png: the upload is not a PNG or JPEG image (it starts with bytes 6e 6f 74")
    assert "error" in message.get_attribute("class")
    assert not page.find_element("id", "encode-result").is_displayed()
    page.find_element("css selector", 'button[data-code="0"][data-category="2"]').click()
    wait_idle(page)
    assert state(page)["shown"]["categorical"] == [2]
    np.testing.assert_array_equal(shown_png(page, "sample"), generate(state(page)["shown"]))


def test_noise_redraw_and_lock(page, generate):
    before = state(page)["shown"]
    page.find_element("id", "redraw").click()
    wait_idle(page)
    redrawn = state(page)["shown"]
    assert redrawn["z"] != before["z"] and redrawn["categorical"] == before["categorical"]
    assert all(-1 <= v <= 1 for v in redrawn["z"])
    np.testing.assert_array_equal(shown_png(page, "sample"), generate(redrawn))
    page.find_element("css selector", 'button[data-code="0"][data-category="5"]').click()
    wait_idle(page)
    assert state(page)["shown"]["z"] == redrawn["z"]  # locked: the codes change, the noise stays
    page.find_element("id", "lock").click()  # unlocked: every change draws new noise
    page.find_element("css selector", 'button[data-code="0"][data-category="6"]').click()
    wait_idle(page)
    unlocked = state(page)["shown"]
    assert unlocked["z"] != redrawn["z"] and unlocked["categorical"] == [6]
    np.testing.assert_array_equal(shown_png(page, "sample"), generate(unlocked))
    page.find_element("id", "lock").click()
    wait_idle(page)


def test_the_page_is_built_from_any_exports_metadata(browser):
    """Colour 8x6 images, two categorical codes (3 and 4 categories), one continuous code on a wider prior."""
    from test_explorer_api import FakeBackend

    with ExplorerServer(FakeBackend()) as other:
        browser.get(other.url)
        wait_idle(browser)
        for code, k in ((0, 3), (1, 4)):
            assert len(browser.find_elements("css selector", f'button[data-code="{code}"]')) == k
        (slider,) = browser.find_elements("css selector", "input[type=range]")
        assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("-3", "3")  # twice the prior, 1.5
        browser.find_element("css selector", 'button[data-code="1"][data-category="2"]').click()
        wait_idle(browser)
        image = shown_png(browser, "sample")
        assert image.shape == (8, 6, 3) and tuple(image[0, 0]) == (0, 120, 120)  # codes (0, 2), continuous 0
        assert shown_png(browser, "grid").shape == (3 * 9 + 1, 10 * 7 + 1, 3)
        assert browser.find_element("id", "status").text == ""


def test_a_tf_serving_backend_that_is_down_is_shown_on_the_page(browser, exported_model):
    """Another explorer, whose TF Serving is not there."""
    from infogan_tf.serving import signatures
    from infogan_tf.serving.client import RestClient
    from infogan_tf.serving.explorer.backend import ServingBackend

    with socket.socket() as s:  # a port on which nothing listens
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    asset = f"{exported_model.path}/assets/{signatures.METADATA_ASSET}"
    with ExplorerServer(ServingBackend(RestClient(dead, "infogan_test"), spec_json=asset)) as down:
        browser.get(down.url)
        wait_idle(browser)
        status = browser.find_element("id", "status")
        assert f"TF Serving backend: cannot reach {dead}/v1/models/infogan_test:predict" in status.text
        assert "error" in status.get_attribute("class")
        assert browser.find_elements("css selector", "input[type=range]")  # the controls are there all the same
