"""The viewer shows inline in an executed notebook: tests/notebook.ipynb run with nbclient, its
last cell's output holding the page in an iframe (and a PNG fallback)."""

import html.parser
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).with_name("notebook.ipynb")


class Frames(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcdocs = []

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.srcdocs.append(dict(attrs).get("srcdoc"))


def test_notebook_shows_the_viewer(gpu, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    shapes = nb.cells[1].outputs[0]["data"]["text/plain"]
    assert shapes == "((2, 7, 8), (2, 7, 7))"
    outputs = nb.cells[2].outputs
    assert len(outputs) == 1 and outputs[0]["output_type"] == "execute_result"
    data = outputs[0]["data"]
    assert "image/png" in data  # the fallback for front ends that show no HTML
    frames = Frames()
    frames.feed(data["text/html"])
    assert len(frames.srcdocs) == 1
    page = frames.srcdocs[0]
    assert page.startswith("<!DOCTYPE html>") and "Two heads, causal" in page
    assert '"the","cat","sat"' in page
