"""A WebSocket echo at /ws/echo/, as ASGI middleware around Django's application.

Django answers HTTP only; this wrapper takes the WebSocket scopes for its path, echoes every
message back, and passes everything else to the application it wraps (the pattern the Django
docs describe for ASGI middleware).
"""

ECHO_PATH = "/ws/echo/"


class EchoWebSocket:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.application(scope, receive, send)
        if scope["path"] != ECHO_PATH:
            await receive()  # the websocket.connect event
            await send({"type": "websocket.close", "code": 4404})
            return None
        while True:
            event = await receive()
            if event["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
            elif event["type"] == "websocket.receive":
                if event.get("text") is not None:
                    await send({"type": "websocket.send", "text": event["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": event.get("bytes") or b""})
            elif event["type"] == "websocket.disconnect":
                return None
