"""Takes the explorer's screenshot for the README: the page of an export, steered and with an image encoded.

  python export/explorer_screenshot.py --saved_model=export/models/infogan_mnist/3000 --out=export/explorer.png

Serves the export with ``infogan_tf.serving.explorer`` on a free loopback
port, opens the page in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium, as in tests/test_explorer_browser.py),
picks ``--category``, sets continuous code 0 to ``--continuous``, encodes the
image it made (upscaled to 84x84, as a user's file would be) and saves the
window as PNG.
"""

from __future__ import annotations

import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from infogan_tf.serving.explorer.app import ExplorerServer
from infogan_tf.serving.explorer.backend import SavedModelBackend

FLAGS = flags.FLAGS
flags.DEFINE_string("saved_model", None, "An export version directory.", required=True)
flags.DEFINE_string("out", "export/explorer.png", "PNG to write.")
flags.DEFINE_integer("category", 3, "Category of categorical code 0 to pick.")
flags.DEFINE_float("continuous", 0.8, "Value of continuous code 0.")
flags.DEFINE_integer("width", 1180, "Window width in pixels.")
flags.DEFINE_integer("height", 1000, "Window height in pixels.")


def _wait_idle(driver, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script("return Boolean(window.explorer && window.explorer.idle())"):
            return
        time.sleep(0.05)
    raise SystemExit("explorer_screenshot: the page did not settle")


def main(argv) -> None:
    del argv
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={FLAGS.width},{FLAGS.height}")
    with ExplorerServer(SavedModelBackend(FLAGS.saved_model)) as server:
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)
        try:
            driver.get(server.url)
            _wait_idle(driver)
            driver.execute_script(
                "document.querySelector(`button[data-code='0'][data-category='${arguments[0]}']`)?.click();"
                "const s = document.getElementById('cont-0');"
                "if (s) { s.value = arguments[1]; s.dispatchEvent(new Event('input')); }",
                FLAGS.category,
                FLAGS.continuous,
            )
            _wait_idle(driver)
            src = driver.find_element("id", "sample").get_attribute("src")
            image = tf.io.decode_png(tf.io.decode_base64(src.split(",", 1)[1].replace("+", "-").replace("/", "_")))
            with tempfile.TemporaryDirectory() as tmp:
                path = f"{tmp}/digit.png"
                big = np.repeat(np.repeat(image.numpy(), 3, axis=0), 3, axis=1)
                tf.io.write_file(path, tf.io.encode_png(big))
                driver.find_element("id", "upload").send_keys(path)
                _wait_idle(driver)
            driver.save_screenshot(FLAGS.out)
        finally:
            driver.quit()
    print(f"explorer_screenshot: wrote {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
