"""ASGI: real Starlette and FastAPI apps through Starlette's TestClient and httpx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from hogkit.integrations.asgi import PosthogASGIMiddleware
from hogkit.transport import Client, MemoryTransport, contexts
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

HEADERS = {"X-POSTHOG-DISTINCT-ID": "asgi-user", "X-POSTHOG-SESSION-ID": "asgi-session"}


@pytest.fixture
def hog() -> Iterator[tuple[Client, MemoryTransport]]:
    memory = MemoryTransport()
    client = Client("phc_test", sync_mode=True, transport=memory)
    yield client, memory
    client.shutdown()


def starlette_app(client: Client) -> Starlette:
    async def ok(request: Request) -> PlainTextResponse:
        contexts.tag("view", "ok")
        client.capture("page_loaded")
        return PlainTextResponse("ok")

    async def broken(request: Request) -> PlainTextResponse:
        contexts.tag("view", "broken")
        raise ValueError("starlette view failed")

    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        contexts.tag("view", "socket")
        await ws.receive_text()
        raise RuntimeError("socket failed")

    app = Starlette(
        routes=[
            Route("/ok", ok),
            Route("/broken", broken),
            WebSocketRoute("/ws", socket),
        ]
    )
    app.add_middleware(PosthogASGIMiddleware, client=client, capture_exceptions=True)
    return app


def test_http_context_reaches_events(hog: tuple[Client, MemoryTransport]) -> None:
    client, memory = hog
    response = TestClient(starlette_app(client)).get("/ok?token=secret", headers=HEADERS)
    assert response.status_code == 200
    (event,) = memory.events
    props = event["properties"]
    assert event["distinct_id"] == "asgi-user"
    assert props["$session_id"] == "asgi-session"
    assert props["$current_url"] == "http://testserver/ok"
    assert (props["$request_method"], props["$request_path"], props["view"]) == ("GET", "/ok", "ok")


def test_unhandled_http_error_captured_once(hog: tuple[Client, MemoryTransport]) -> None:
    client, memory = hog
    test_client = TestClient(starlette_app(client), raise_server_exceptions=False)
    assert test_client.get("/broken", headers=HEADERS).status_code == 500
    (event,) = memory.events
    props = event["properties"]
    assert event["event"] == "$exception"
    assert event["distinct_id"] == "asgi-user"
    assert props["$session_id"] == "asgi-session"
    assert props["$exception_source"] == "asgi.middleware"
    assert props["$current_url"] == "http://testserver/broken"
    assert props["view"] == "broken"


def test_websocket_error_captured_once(hog: tuple[Client, MemoryTransport]) -> None:
    client, memory = hog
    test_client = TestClient(starlette_app(client))
    with (
        pytest.raises(RuntimeError, match="socket failed"),
        test_client.websocket_connect("/ws", headers=HEADERS) as ws,
    ):
        ws.send_text("hi")
        ws.receive_text()
    (event,) = memory.events
    assert event["distinct_id"] == "asgi-user"
    assert event["properties"]["view"] == "socket"
    assert event["properties"]["$request_path"] == "/ws"


def fastapi_app(client: Client) -> FastAPI:
    app = FastAPI()
    app.add_middleware(PosthogASGIMiddleware, client=client, capture_exceptions=True)

    @app.get("/items/{item}")
    async def item(item: int) -> dict[str, int]:
        if item == 0:
            raise HTTPException(status_code=404)
        if item < 0:
            raise ValueError("negative item")
        await asyncio.sleep(0)
        client.capture("item_viewed", properties={"item": item})
        return {"item": item}

    return app


def test_fastapi_4xx_not_captured_and_5xx_once(hog: tuple[Client, MemoryTransport]) -> None:
    client, memory = hog
    test_client = TestClient(fastapi_app(client), raise_server_exceptions=False)
    assert test_client.get("/items/0", headers=HEADERS).status_code == 404
    assert memory.events == []
    assert test_client.get("/items/-1", headers=HEADERS).status_code == 500
    (event,) = memory.events
    assert event["distinct_id"] == "asgi-user"
    assert event["properties"]["$exception_list"][0]["value"] == "negative item"


def test_100_concurrent_requests_never_mix_ids(hog: tuple[Client, MemoryTransport]) -> None:
    client, memory = hog
    app = fastapi_app(client)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            responses = await asyncio.gather(
                *(
                    http.get(f"/items/{i}", headers={"X-POSTHOG-DISTINCT-ID": f"user-{i}"})
                    for i in range(1, 101)
                )
            )
        assert all(r.status_code == 200 for r in responses)

    asyncio.run(main())
    events = memory.events
    assert len(events) == 100
    assert all(e["distinct_id"] == f"user-{e['properties']['item']}" for e in events)


def test_real_uvicorn_server_one_capture_per_error(hog: tuple[Client, MemoryTransport]) -> None:
    import threading
    import time

    import uvicorn

    client, memory = hog
    config = uvicorn.Config(fastapi_app(client), host="127.0.0.1", port=0, log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not (server.started and server.servers):
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert http.get("/items/3", headers=HEADERS).status_code == 200
            assert http.get("/items/0", headers=HEADERS).status_code == 404
            assert http.get("/items/-2", headers=HEADERS).status_code == 500
    finally:
        server.should_exit = True
        thread.join(30)
    viewed, error = memory.events
    assert (viewed["event"], viewed["distinct_id"]) == ("item_viewed", "asgi-user")
    assert viewed["properties"]["$current_url"] == f"http://127.0.0.1:{port}/items/3"
    assert error["event"] == "$exception"
    assert error["distinct_id"] == "asgi-user"
    assert error["properties"]["$session_id"] == "asgi-session"
    assert error["properties"]["$exception_source"] == "asgi.middleware"
