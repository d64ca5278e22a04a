"""The interactive API docs need no internet: Swagger UI comes from the installed package."""

import re
import urllib.request

import pytest

from tests.live import child_env, daphne_command, free_port, running


@pytest.mark.django_db(transaction=True)
def test_the_docs_page_loads_its_scripts_from_this_server():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(daphne_command(port), child_env(), wait_url=f"{base}/healthz"):
        with urllib.request.urlopen(f"{base}/api/v1/docs", timeout=10) as page:
            html = page.read().decode()
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
        assert any("swagger-ui-bundle.js" in asset for asset in assets), html
        for asset in assets:
            assert asset.startswith("/"), f"{asset} is not served by the hub"
            with urllib.request.urlopen(base + asset, timeout=10) as answer:
                assert answer.status == 200 and len(answer.read()) > 1000
