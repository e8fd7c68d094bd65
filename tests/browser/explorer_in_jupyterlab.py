"""The explorer in a real browser: ``make browser-test`` runs this file (not collected by pytest).

Starts JupyterLab headless on a free localhost port with a random token, in a temporary folder
holding a copy of notebooks/12-explorer.ipynb; opens it under Debian's Chromium driven by
playwright (never a browser playwright downloads); runs every cell; moves the explorer's dose
slider one step with the keyboard, and checks that the figure changed: the image the widget
shows gets a new source and new pixels (PKMODEL_BROWSER_SCREENSHOT=page.png saves a picture of
the page then). Exits 0 on success and 1 with one line saying what failed; the server, the
browser and the temporary folders are removed either way. Takes well under 90 s.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "12-explorer.ipynb"
CHROMIUM = "/usr/bin/chromium"
# Flags Chromium needs on these machines (root, no GPU, closed network); the empty user-data-dir
# is the persistent context's own temporary folder.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_S = 60.0
STEP_MS = 45_000  # the longest single wait in the browser (a loaded CI machine starts kernels slowly)


class Failure(Exception):
    """What went wrong, in one line for the person running make browser-test."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_lab(folder: Path, port: int, token: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        # A fresh Jupyter configuration and runtime: nothing from the user's own set-up.
        "JUPYTER_CONFIG_DIR": str(folder / ".jupyter"),
        "JUPYTER_DATA_DIR": str(folder / ".jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(folder / ".jupyter-runtime"),
        "IPYTHONDIR": str(folder / ".ipython"),
        "MPLBACKEND": "Agg",
    }
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        "--allow-root",  # CI runs as root; the server only listens on localhost, behind a token
        "--LabApp.extension_manager=readonly",  # no extension searches on the network
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run all cells by command
        "--LabApp.news_url=",
        "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def wait_for_lab(server: subprocess.Popen[bytes], port: int, token: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise Failure(f"JupyterLab exited with {server.returncode}: {log.read_text()[-600:]!r}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise Failure(f"JupyterLab did not answer on port {port} within {SERVER_START_S:g} s")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started, nothing else
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def drive(port: int, token: str, profile: Path) -> str:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000}
        )
        try:
            page = context.new_page()
            page.set_default_timeout(STEP_MS)
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}", wait_until="domcontentloaded")
            step(page.wait_for_function, "the notebook did not open", "() => window.jupyterapp && document.querySelector('.jp-Notebook')")
            # The kernel must be ready before running: wait for its status to be idle.
            step(
                page.wait_for_function,
                "the kernel did not start",
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.status === 'idle'; }",
            )
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            image = page.locator(".jupyter-widgets img").first
            step(image.wait_for, "the explorer's figure did not appear (widgets not rendered?)", state="visible")
            # Every cell has run (the last one moves the dose there and back): the kernel is idle again.
            step(
                page.wait_for_function,
                "the notebook did not finish running",
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w.sessionContext.session.kernel.status === 'idle'"
                " && ![...document.querySelectorAll('.jp-InputPrompt')].some(e => e.textContent.includes('[*]')); }",
            )
            errors = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
            if any("Error" in e for e in errors):
                raise Failure(f"a notebook cell failed: {errors[0][:300]!r}")
            before_src = image.get_attribute("src")
            before_png = image.screenshot()
            slider = page.locator(".widget-slider", has_text="dose (mg)").first.locator(".noUi-handle").first
            slider.focus()
            slider.press("ArrowRight")  # one step of 50 mg
            step(
                page.wait_for_function,
                "moving the dose slider did not change the figure",
                "(before) => { const img = document.querySelector('.jupyter-widgets img');"
                " return img && img.getAttribute('src') !== before; }",
                arg=before_src,
            )
            page.wait_for_timeout(300)  # let the new image paint before its pixels are read
            after_png = image.screenshot()
            if after_png == before_png:
                raise Failure("the figure's source changed but its pixels did not")
            if os.environ.get("PKMODEL_BROWSER_SCREENSHOT"):  # a picture of the page, to look at
                page.screenshot(path=os.environ["PKMODEL_BROWSER_SCREENSHOT"], full_page=True)
            readout = page.locator(".widget-slider", has_text="dose (mg)").first.locator(".widget-readout").inner_text()
            return f"dose slider moved to {readout.strip()} mg; figure redrawn"
        except PlaywrightError as err:
            raise Failure(f"the browser failed: {str(err).splitlines()[0]}") from None
        finally:
            context.close()


def step(wait, message: str, *args, **kwargs):  # type: ignore[no-untyped-def]
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return wait(*args, **kwargs)
    except PlaywrightTimeout:
        raise Failure(f"{message} (waited {STEP_MS / 1000:g} s)") from None


def main() -> int:
    if not Path(CHROMIUM).exists():
        print(f"browser-test: FAILED: {CHROMIUM} is missing (make browser-test installs Debian's chromium)")
        return 1
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="pkmodel-browser-"))
    server = None
    try:
        shutil.copy(ROOT / "notebooks" / NOTEBOOK, folder / NOTEBOOK)
        port, token = free_port(), secrets.token_hex(16)
        log = folder / "jupyterlab.log"
        server = start_lab(folder, port, token, log)
        wait_for_lab(server, port, token, log)
        what = drive(port, token, folder / "chromium-profile")
    except Failure as err:
        print(f"browser-test: FAILED after {time.monotonic() - started:.0f} s: {err}")
        return 1
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"browser-test: passed in {time.monotonic() - started:.0f} s ({what})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
