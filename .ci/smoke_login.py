"""Log in over HTTP as the admin `make run` made (from DJANGO_SUPERUSER_USERNAME/_PASSWORD when
they are set, as the README suggests, else the generated password), then open the WebSocket."""

import asyncio
import os
import re
import sys
from pathlib import Path

import aiohttp


async def main(base: str) -> None:
    if os.environ.get("DJANGO_SUPERUSER_USERNAME") and os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
        username, password = os.environ["DJANGO_SUPERUSER_USERNAME"], os.environ["DJANGO_SUPERUSER_PASSWORD"]
    else:
        username, password = Path("var/admin-password.txt").read_text().split()[:2]
    # unsafe=True: aiohttp otherwise drops cookies set by an IP-address host.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{base}/") as anonymous:
            assert anonymous.url.path == "/accounts/login/", anonymous.url
        async with session.get(f"{base}/accounts/login/") as page:
            html = await page.text()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        data = {"username": username, "password": password, "csrfmiddlewaretoken": token}
        async with session.post(f"{base}/accounts/login/", data=data, headers={"Referer": f"{base}/"}) as response:
            body = await response.text()
            assert response.url.path == "/", (response.status, response.url)
            assert "Components" in body
        print(f"logged in as {username}")
        ws_url = base.replace("http", "ws", 1) + "/ws/metrics/"
        async with session.ws_connect(ws_url, headers={"Origin": base}) as socket:
            first = await socket.receive_json(timeout=10)
            assert first["type"] == "initialData", first
        print("WebSocket: initialData received")
        async with aiohttp.ClientSession() as anonymous_session:
            try:
                async with anonymous_session.ws_connect(ws_url, headers={"Origin": base}) as socket:
                    message = await socket.receive(timeout=10)
                    assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 4401, message
            except aiohttp.WSServerHandshakeError as exc:
                raise AssertionError("anonymous socket should be accepted then closed with 4401") from exc
        print("anonymous WebSocket closed with 4401")


asyncio.run(main(sys.argv[1]))
