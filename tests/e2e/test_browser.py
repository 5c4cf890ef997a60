"""What a user sees, in a real browser (headless Chromium, tests/e2e/browser.py): log in, choose a profile
and an option on the spawn page, follow the progress, land in JupyterLab, run a cell, save the notebook in
the workspace, stop the server from the hub's home page; the notebook is still there at the next start.
And a spawn that cannot succeed shows the operator's message on the page within seconds.

``make screenshots`` runs this with $JUPYTERNETES_SCREENSHOTS=docs/images: the pictures in README.md and
docs/spawner.md are the ones it takes.
"""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from tests.conftest import wait_until
from tests.e2e.browser import Screenshots
from tests.e2e.conftest import Hub

CELL = "import os\nprint(f'{6 * 7} from uid {os.getuid()}')"
NOTEBOOK = "from-the-browser.ipynb"


def log_in(page: Any, hub: Hub, user: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.deployment.password)
    page.click("#login_submit")


def progress(page: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = page.evaluate("window.__jupyternetesProgress || []")
    return events


def test_login_profile_progress_jupyterlab_cell_and_stop(
    demo_hub: Hub, page: Any, screenshots: Screenshots
) -> None:
    hub = demo_hub
    user = "lab-ada"
    hub.create_user(user)
    log_in(page, hub, user)

    # The spawn page: the profiles, and the "Data" profile's option once it is chosen.
    page.wait_for_url(re.compile(r".*/hub/spawn(/[^/]+)?$"))
    expect(page.locator("input[name=profile]").first).to_be_checked()  # the default profile
    page.check("#profile-item-data")
    option = page.locator("select[name='profile-option-data--size']")
    expect(option).to_be_visible()
    option.select_option("large")
    screenshots.take(page, "spawn-options")

    # The progress page; its last event ("ready": the page reloads into the server) is held back by the
    # browser fixture's script until the test has looked at the finished progress (tests/e2e/browser.py).
    started = time.monotonic()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(rf".*/hub/spawn-pending/{user}.*"))
    page.wait_for_function("() => typeof window.__releaseReady === 'function'", timeout=90_000)
    events = progress(page)
    took = time.monotonic() - started
    page.locator("#progress-details").evaluate("details => { details.open = true; }")
    screenshots.take(page, "spawn-progress")
    percents = [e["progress"] for e in events if "progress" in e]
    assert percents == sorted(percents), f"progress went back: {percents}"
    assert events[-1].get("ready"), events
    text = "\n".join(str(e.get("message", "")) for e in events)
    # The operator's steps, as the hub read them from the instance's status alone.
    for step in (
        "Template jupyternetes/data-template rendered",  # kind: the template namespace differs
        "PVC jupyter-lab-ada-workspace bound",
        "PVC jupyter-lab-ada-data bound",
        "scheduled to node",
        "image pulled, container started",
        "Pod jupyter-lab-ada-notebook ready",
        "Server ready at",
    ):
        if step.startswith("Template") and hub.deployment.template_namespace != "jupyternetes":
            step = f"Template {hub.deployment.template_namespace}/data-template rendered"
        assert step in text, f"{step!r} not among the progress messages:\n{text}"
    assert took < 90

    # JupyterLab, JupyterHub's default for a server that has it.
    page.evaluate("window.__releaseReady()")
    page.wait_for_url(re.compile(rf".*/user/{user}/lab.*"), timeout=60_000)
    expect(page.locator(".jp-Launcher")).to_be_visible(timeout=90_000)
    # The variables the choice made are the instance's, and so its pod's resources.
    inst = hub.instance(f"jupyter-{user}")
    assert inst is not None
    assert inst["spec"]["variables"]["jupyterhub.profile"] == "data"
    assert inst["spec"]["variables"]["jupyterhub.profile.options"] == "size=large"
    requests_ = hub.pod(f"jupyter-{user}-notebook").spec.containers[0].resources.requests
    assert (requests_["cpu"], requests_["memory"]) == ("1", "2Gi")

    # A notebook in the workspace (the PVC at ~/work), one cell run, saved.
    page.goto(f"{hub.url}/user/{user}/lab/tree/work")
    expect(page.locator(".jp-Launcher")).to_be_visible(timeout=60_000)
    page.locator(".jp-LauncherCard[data-category='Notebook']").first.click()
    cell = page.locator(".jp-Notebook .jp-Cell").first
    expect(cell).to_be_visible(timeout=60_000)
    # The file browser back at the home directory before the notebook is renamed in work/: jupyter_server
    # (2.x) answers a listing of a directory with 404 when a file in it is renamed during the listing
    # (its _dir_model looks up each entry it listed), and JupyterLab then shows "Directory not found".
    # At Playwright's speed the save's refresh of work/ and the rename meet often enough to matter.
    page.locator(".jp-FileBrowser .jp-BreadCrumbs-home").click()
    listed = page.locator(".jp-FileBrowser .jp-DirListing-itemText")
    expect(listed.filter(has_text=re.compile(r"^data$"))).to_be_visible()
    expect(listed.filter(has_text=re.compile(r"^work$"))).to_be_visible()
    # The kernel started and connected (a cell run before that waits for nothing).
    expect(page.locator(".jp-StatusBar-Item", has_text="| Idle")).to_be_visible(timeout=60_000)
    cell.locator(".cm-content").click()
    page.keyboard.type(CELL)
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-OutputArea-output").first
    expect(output).to_contain_text("42 from uid", timeout=60_000)
    # The first save asks for a name.
    page.keyboard.press("Control+s")
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox", name="File name").fill(NOTEBOOK)
    dialog.get_by_role("button", name="Rename and Save").click()
    expect(page.get_by_role("tab", name=NOTEBOOK)).to_be_visible()
    token = hub.user_token(user)
    saved = wait_until(
        lambda: notebook_outputs(hub, user, token),
        30,
        message="the notebook saved in work/ with its output",
    )
    assert any("42 from uid" in out for out in saved), saved
    # The rename is over: the file browser may list work/ again, and shows the notebook there.
    listed.filter(has_text=re.compile(r"^work$")).dblclick()
    expect(listed.filter(has_text=NOTEBOOK)).to_be_visible()
    dismiss_news(page)
    if hub.deployment.pods_reachable:
        # kubesim runs it as the template's runAsUser (or says in an Event it could not: not root).
        assert any("42 from uid 1000" in out for out in saved) or "SecurityContextNotHonoured" in str(
            [e.reason for e in hub.core.list_namespaced_event(hub.namespace).items]
        ), saved
    screenshots.take(page, "jupyterlab")

    # Stop from the hub's home page.
    page.goto(f"{hub.url}/hub/home")
    page.locator("#stop").click()
    expect(page.locator("#start")).to_be_visible(timeout=90_000)
    wait_until(lambda: hub.server(user) is None, 60, message="the server stopped")
    assert hub.instance(f"jupyter-{user}") is None
    assert hub.pvc(f"jupyter-{user}-workspace") is not None

    # The next start (the default profile, another template: the workspace is the same PVC) finds it.
    hub.spawn_and_wait(user)
    token = hub.user_token(user)
    assert any("42 from uid" in out for out in notebook_outputs(hub, user, token)), "kept across a stop"
    hub.stop(user)


def test_a_failed_spawn_shows_the_operators_message(hub: Hub, page: Any, screenshots: Screenshots) -> None:
    user = "lab-oops"
    hub.create_user(user)
    log_in(page, hub, user)
    page.wait_for_url(re.compile(r".*/hub/spawn(/[^/]+)?$"))
    page.check("#profile-item-broken")
    started = time.monotonic()
    page.get_by_role("button", name="Start").click()
    # The spawn-pending page marks the failed bar with Bootstrap 5's class from JupyterHub 6, with
    # Bootstrap 3's before (JupyterHub 5.x).
    bar = page.locator("#progress-bar.bg-danger, #progress-bar.progress-bar-danger")
    expect(bar).to_be_visible(timeout=hub.deployment.fail_fast_seconds * 1000)
    took = time.monotonic() - started
    assert took < hub.deployment.fail_fast_seconds, f"the failure showed after {took:.1f} s"
    message = page.locator("#progress-message")
    expect(message).to_contain_text("Spawn failed")
    expect(message).to_contain_text("doesnotexist")
    expect(page.locator("#progress-log")).to_contain_text("ErrImagePull")
    screenshots.take(page, "spawn-failed")


def dismiss_news(page: Any) -> None:
    """Answer JupyterLab's question about Jupyter news (a notification that may cover the picture)."""
    no = page.get_by_role("alert").filter(has_text="Jupyter news").get_by_role("button", name="No")
    if no.count():
        no.first.click()
        # Answered, the toast loses its role at once but slides out for about a second more.
        expect(page.locator(".Toastify__toast", has_text="Jupyter news")).to_have_count(0)


def notebook_outputs(hub: Hub, user: str, token: str) -> list[str]:
    """The text outputs of the notebooks in the user's work/ directory (through the proxy, as the user)."""
    listing = hub.get(f"/user/{user}/api/contents/work", token=token)
    if listing.status_code != 200:
        return []
    outputs = []
    for entry in listing.json()["content"]:
        if entry["type"] != "notebook":
            continue
        nb = hub.get(f"/user/{user}/api/contents/{entry['path']}", token=token)
        if nb.status_code != 200:
            continue
        for cell in nb.json()["content"]["cells"]:
            for out in cell.get("outputs") or ():
                text = out.get("text")
                outputs.append("".join(text) if isinstance(text, list) else str(text or ""))
    return outputs
