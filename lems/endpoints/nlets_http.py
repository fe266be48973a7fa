"""Nlets XML over HTTP(S) POST: a state-side interface can test against the mock Nlets the way
it talks to a web-service front end (``lems endpoint nlets DIR --listen ... --http tcp:8480``).

One POST carries one Nlets XML request (``n2:NLETS``); the answer is ``application/xml``. Nlets
answers a multi-destination request with one message per destination; an HTTP exchange has one
body, so several answers come wrapped in ``<lems:Answers xmlns:lems="urn:lems:nlets-answers">``
(this simulator's own wrapper, see docs/FIDELITY.md). Answers that come late (a slow member, a
simulated agency's YR) go out on the endpoint's link as unsolicited traffic, not on HTTP.
Bad input gets a clear answer and loses nothing: anything but POST is 405, a body over
``nlets_xml.MAX_XML`` is 413, XML that cannot be read is an ``ER .03.`` in XML (status 200, as
Nlets answers a bad message with an ER).
"""

from __future__ import annotations

from typing import Any

from twisted.web import resource, server

from formats import nlets_xml
from lems.endpoints.nlets import Nlets

WRAPPER = "urn:lems:nlets-answers"


class NletsXmlResource(resource.Resource):
    isLeaf = True

    def __init__(self, system: Nlets) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # twisted.web: no annotations
        self.system = system
        self.stats = {"requests": 0, "refused": 0}

    def render_GET(self, request: Any) -> bytes:
        request.setResponseCode(405)
        request.setHeader(b"allow", b"POST")
        return b"POST an Nlets XML (n2:NLETS) message\n"

    def render_POST(self, request: Any) -> bytes:
        body = request.content.read(nlets_xml.MAX_XML + 1)
        if len(body) > nlets_xml.MAX_XML:
            self.stats["refused"] += 1
            request.setResponseCode(413)
            return f"request longer than {nlets_xml.MAX_XML} bytes\n".encode()
        self.stats["requests"] += 1
        answer = self.system.handle_xml(body.decode("utf-8", "replace"), "http")
        request.setHeader(b"content-type", b"application/xml; charset=utf-8")
        if len(answer.bodies) == 1:
            return answer.bodies[0].encode("utf-8")
        inner = "".join(answer.bodies)
        return f'<lems:Answers xmlns:lems="{WRAPPER}">{inner}</lems:Answers>'.encode()


def site(system: Nlets) -> server.Site:
    """The HTTP site serving ``system`` at every path."""
    return server.Site(NletsXmlResource(system))
