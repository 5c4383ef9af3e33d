"""The console is read-only and answers loopback only: 405 for anything but GET/HEAD, 403 for another host or
client, and the emulator it rides refuses to bind anything but loopback."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from werkzeug.test import Client

from emulator.config import EmulatorConfig
from emulator.console.app import with_console
from emulator.errors import ConfigError
from tests.console.conftest import CLIPS, Classified, get
from tests.pipeline.conftest import upload_clip


def moto_stand_in(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"moto"]


@pytest.fixture
def client() -> Client:
    """The console in front of a stand-in for moto, asked from 127.0.0.1 unless a test says otherwise (werkzeug's
    test client sends no client address); nothing here reaches an AWS API."""
    app = with_console(moto_stand_in, EmulatorConfig(template=None), dict)

    def from_loopback(environ: dict[str, Any], start_response: Any) -> Any:
        environ.setdefault("REMOTE_ADDR", "127.0.0.1")
        return app(environ, start_response)

    return Client(from_loopback)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_writes_are_refused_with_405(client: Client, method: str) -> None:
    response = client.open("/_console/", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_everything_outside_the_console_goes_to_moto(client: Client) -> None:
    assert client.post("/", data="Action=ListQueues").get_data() == b"moto"
    assert client.get("/_consolex").get_data() == b"moto"


def test_a_client_that_is_not_loopback_is_refused(client: Client) -> None:
    response = client.get("/_console/", environ_base={"REMOTE_ADDR": "192.168.1.20"})
    assert response.status_code == 403


def test_a_page_on_another_host_name_is_refused(client: Client) -> None:
    """DNS rebinding: a page at evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    assert client.get("/_console/", headers={"Host": "evil.example:4566"}).status_code == 403


def test_unknown_console_paths_are_404_and_static_files_ship_in_the_package(client: Client) -> None:
    assert client.get("/_console/../etc/passwd").status_code == 404
    css = client.get("/_console/static/console.css")
    assert css.status_code == 200 and b"figure.frame" in css.get_data()
    assert "default-src 'self'" in css.headers["Content-Security-Policy"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_the_emulator_and_so_the_console_bind_loopback_only(host: str) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        EmulatorConfig(host=host)


@pytest.mark.integration
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_the_running_console_refuses_writes(classified: Classified, method: str) -> None:
    request = urllib.request.Request(classified.console_url, data=b"x", method=method)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


@pytest.mark.integration
def test_the_running_console_serves_the_frame_it_shows(classified: Classified) -> None:
    frames = classified.emulator.client("s3").list_objects_v2(
        Bucket=classified.emulator.outputs["FramesBucket"], Prefix=f"frames/{classified.device_id}/")["Contents"]
    key = frames[0]["Key"]
    with urllib.request.urlopen(f"{classified.console_url}frame?key={key}", timeout=10) as response:
        assert response.headers["Content-Type"] == "image/png"
        assert response.read().startswith(b"\x89PNG")


@pytest.mark.integration
def test_a_frame_deleted_before_the_console_looked_is_still_listed_with_the_others(classified: Classified,
                                                                                      results: Any) -> None:
    """As a lifecycle rule (or bench_soak's janitor) deletes answered frames: the console lists a recent frame gone
    from its bucket without its size, and the page's other frames with it (it once showed none)."""
    emulator, device_id = classified.emulator, f"console-gone-{uuid.uuid4().hex[:6]}"
    upload_clip(emulator, device_id, CLIPS[0])
    [result] = results.wait_for(device_id)
    emulator.client("s3").delete_object(Bucket=emulator.outputs["FramesBucket"], Key=result["frame_key"])
    deadline, panels = time.monotonic() + 30, ""
    while f'data-key="{result["frame_key"]}"' not in panels:  # once its log line is shipped
        assert time.monotonic() < deadline, f"the console never listed {result['frame_key']}:\n{panels[-3000:]}"
        time.sleep(0.2)
        panels = get(f"{classified.console_url}panels")
    others = panels.count('data-key="frames/') - 1  # the newest frames, whichever tests on this emulator made them
    assert others >= len(CLIPS), f"the deleted frame's page lists {others} other frames:\n{panels[-3000:]}"
