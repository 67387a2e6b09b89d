"""JupyterLab as a researcher uses it: a real server on localhost and headless Chromium.

The server runs with a token on a free port over a scratch directory with copies of the project's
notebooks (a server may save what it opens); the browser opens the classic-control notebook and its jupytext pair, runs a cell that
calls the explorer on the committed results, and checks that the widget and a plotly figure render,
that no request leaves localhost and that the console shows no error.
"""

import hashlib
import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
EXPLORE = ("from lthlib import load_results\nfrom lthlib.explore import explorer\n"
           f"explorer(load_results({str(ROOT / 'data' / 'results')!r}))")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_readme_command_serves_jupyterlab_even_as_root(tmp_path):
    """`.venv/bin/jupyter lab`, as the README says (a port and a token added to find it); as root, a server
    without scripts/setup.sh's config exits at once ("Running as root is not recommended")."""
    port, token = free_port(), secrets.token_hex(16)
    env = {"HOME": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}",
                               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(120):
            assert server.poll() is None, server.stdout.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    assert "started" in json.load(r)
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within a minute")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_setup_writes_the_venvs_jupyter_config_on_every_run_not_only_on_install(tmp_path):
    """A venv installed before the config step existed gets it too: scripts/setup.sh writes the root allowance
    and the JupyterLab overrides after its install step, which a current stamp skips; nothing outside .venv/."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", repo / "scripts")
    shutil.copy(ROOT / "pyproject.toml", repo)
    venv_python = repo / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("#!/bin/sh\nexit 97\n")  # the install step would call it: it must not run
    venv_python.chmod(0o755)
    stamp = hashlib.sha256((repo / "pyproject.toml").read_bytes() + (repo / "scripts" / "setup.sh").read_bytes())
    (repo / ".venv" / f".installed-{stamp.hexdigest()[:12]}").touch()
    before = sorted(p for p in repo.rglob("*") if ".venv" not in p.parts)
    (tmp_path / "home").mkdir()
    subprocess.run(["bash", "scripts/setup.sh"], cwd=repo, check=True, timeout=60,
                   env={"PYTHON": sys.executable, "HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    config = json.loads((repo / ".venv" / "etc" / "jupyter" / "jupyter_server_config.json").read_text())
    assert config == {"ServerApp": {"allow_root": True}}
    overrides = repo / ".venv" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert overrides.read_bytes() == (ROOT / "scripts" / "jupyterlab-overrides.json").read_bytes()
    kernel_config = repo / ".venv" / "etc" / "ipython" / "ipython_kernel_config.py"
    assert kernel_config.read_bytes() == (ROOT / "scripts" / "ipython_kernel_config.py").read_bytes()
    assert sorted(p for p in repo.rglob("*") if ".venv" not in p.parts) == before
    assert list((tmp_path / "home").iterdir()) == []


@pytest.mark.parametrize("ip, warned", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_a_kernel_on_loopback_drops_the_unencrypted_tcp_notice_and_any_other_keeps_it(tmp_path, ip, warned):
    """The venv's kernel config (scripts/ipython_kernel_config.py) drops ipykernel's notice for a kernel that
    listens on loopback only, as papermill, the book and nbval start it; one listening on all interfaces warns."""
    if not (Path(sys.prefix) / "etc" / "ipython" / "ipython_kernel_config.py").exists():
        pytest.skip("run from a venv made by scripts/setup.sh")
    notebook = tmp_path / "one.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), notebook)
    script = ("import sys, papermill\nfrom jupyter_client.manager import AsyncKernelManager\n"
              "class Manager(AsyncKernelManager):\n"
              "    def __init__(self, **kw):\n        super().__init__(ip=sys.argv[3], **kw)\n"
              "papermill.execute_notebook(sys.argv[1], sys.argv[2], progress_bar=False, kernel_manager_class=Manager)\n")
    run = subprocess.run([sys.executable, "-c", script, str(notebook), str(tmp_path / "out.ipynb"), ip],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert nbformat.read(tmp_path / "out.ipynb", 4).cells[0].outputs[0].text == "42\n"
    assert ("Kernel is running over TCP without encryption" in run.stderr) is warned


@pytest.fixture
def lab(tmp_path):
    """(base URL, token) of a JupyterLab server, stopped afterwards."""
    home = tmp_path / "lab"
    home.mkdir()
    (home / "notebooks").mkdir()
    for name in ("classic_control.ipynb", "classic_control.py"):  # copies: a server may save what it opens
        shutil.copy(ROOT / "notebooks" / name, home / "notebooks" / name)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EXPLORE)],
                                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                     "language": "python"}}), home / "explore.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = {"JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}", "--ServerApp.port_retries=0",
         "--LabApp.extension_manager=readonly"],  # as root too: scripts/setup.sh allows it in the venv's config
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if json.load(r):
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start")
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


@needs_chromium
def test_jupyterlab_opens_the_notebooks_and_the_explorer_draws_a_figure(lab):
    from playwright.sync_api import sync_playwright

    base, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                                                      "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors, remote = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: remote.append(r.url) if not r.url.startswith((base, "data:", "blob:", "about:",
                                                                                       base.replace("http", "ws"))) else None)
        for name in ("classic_control.ipynb", "classic_control.py"):  # the pair: both open as notebooks
            page.goto(f"{base}/lab/tree/notebooks/{name}?reset&token={token}")  # reset: only this one open
            page.wait_for_function("document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')"
                                   ".length >= 8", timeout=180_000)  # every cell of the notebook, markdown and code
            title = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell h1").first.inner_text()
            assert title.startswith("Lottery tickets in classic control"), (name, title)
        page.goto(f"{base}/lab/tree/explore.ipynb?reset&token={token}")
        page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell", timeout=180_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
        prompt = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt").first
        for _ in range(3):  # a loaded machine may take the keys before the kernel is ready: run again until it runs
            page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .cm-content").first.click()
            page.keyboard.press("Shift+Enter")
            try:
                page.wait_for_function("p => /\\[(\\*|\\d+)\\]/.test(p.textContent)", arg=prompt.element_handle(),
                                       timeout=60_000)
                break
            except Exception:
                continue
        page.wait_for_selector(".jp-OutputArea .widget-dropdown select", timeout=180_000)
        page.wait_for_selector(".jp-OutputArea .js-plotly-plot .main-svg", timeout=180_000)
        assert page.locator(".jp-OutputArea .widget-dropdown").count() == 4  # family, task, run, metric
        assert page.locator(".jp-OutputArea .js-plotly-plot g.trace.scatter").count() >= 3  # WT, RT, dense
        assert errors == [], errors
        assert remote == [], remote
        browser.close()
