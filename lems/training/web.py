"""The dashboard as a web page served by the switch process (twisted.web): ``/`` is a small page
whose script polls ``/api/dashboard`` (the ``Snapshot`` as JSON) every second and fills itself
in, so an instructor can put the lab on a projector."""

from __future__ import annotations

import json
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Site

from lems.training.dashboard import snapshot

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>LEMS lab dashboard</title>
<style>
body{font-family:sans-serif;background:#111;color:#eee;margin:1em}
h1{font-size:1.4em}h2{font-size:1.1em;margin:.6em 0 .2em}
table{border-collapse:collapse;margin-bottom:1em}td,th{padding:2px 8px;border-bottom:1px solid #333;
text-align:left}.grid{display:flex;gap:2em;flex-wrap:wrap}.bad{color:#f66}.hit{color:#fc3}
</style></head><body>
<h1>LEMS lab dashboard - <span id="lab">…</span></h1>
<p>Lab time <span id="now">…</span> · online: <span id="online">…</span>
 · endpoints: <span id="endpoints">…</span></p>
<div class="grid">
<div><h2>messages / s by key</h2><table id="rates"></table></div>
<div><h2>rejects by reason</h2><table id="rejects"></table></div>
<div><h2>open hit confirmations</h2><table id="hits"></table></div>
</div>
<div id="deadbox" hidden><h2 class="bad">dead letters (lems mail dead | resend | drop)</h2>
<table id="dead"></table></div>
<h2>recent traffic</h2><table id="recent"></table>
<script>
function esc(s){return String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));}
function rows(id, list){document.getElementById(id).innerHTML=list.map(
  r=>'<tr'+(r[1]?' class="'+r[1]+'"':'')+'>'+r[0].map(c=>'<td>'+esc(c)+'</td>').join('')+'</tr>'
).join('');}
function show(s){
  document.getElementById('lab').textContent=s.lab;
  document.getElementById('now').textContent=s.now;
  document.getElementById('online').textContent=s.online.join(' ')||'-';
  document.getElementById('endpoints').textContent=
    Object.entries(s.endpoints).map(e=>e[0]+':'+e[1]).join(' ')||'-';
  rows('rates',Object.entries(s.rates).map(e=>[[e[0],e[1]]]));
  rows('rejects',Object.entries(s.rejects).map(e=>[[e[0],e[1]],'bad']));
  rows('hits',s.hits.map(h=>[[h.from+' → '+h.to,h.id,'PRI/'+h.priority,
    h.left>=0?Math.floor(h.left/60)+':'+String(h.left%60).padStart(2,'0'):'OVERDUE'],
    h.left<0?'bad':'hit']));
  rows('dead',s.dead_letters.map(d=>[[d.terminal,'OSN/'+String(d.osn).padStart(7,'0'),d.text],
    'bad']));
  document.getElementById('deadbox').hidden=!s.dead_letters.length;
  rows('recent',s.recent.map(r=>[[r.seq,r.time,r.dir,r.terminal,r.key,r.disposition,r.text],
    r.disposition==='rejected'||r.disposition==='refused'?'bad':(r.key==='HIT'?'hit':'')]));
  document.body.dataset.loaded='yes';
}
function poll(){fetch('api/dashboard').then(r=>r.json()).then(show).catch(()=>{})
  .finally(()=>setTimeout(poll,1000));}
poll();
</script></body></html>
"""


class DashboardPage(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return PAGE.encode()


class DashboardData(Resource):
    isLeaf = True

    def __init__(self, switch: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # twisted.web: no annotations
        self.switch = switch

    def render_GET(self, request: Any) -> bytes:
        snap = snapshot(self.switch.lab.database, self.switch.lab.name, switch=self.switch)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(snap.to_dict()).encode()


def site(switch: Any) -> Site:
    root = Resource()
    # twisted.web's Resource has no annotations; mypy's untyped_calls_exclude misses a
    # subclass's inherited __init__
    root.putChild(b"", DashboardPage())  # type: ignore[no-untyped-call]
    api = Resource()
    api.putChild(b"dashboard", DashboardData(switch))
    root.putChild(b"api", api)
    return Site(root)


def serve(switch: Any, description: str) -> Any:
    """Listen on a Twisted server endpoint string (``tcp:8020:interface=127.0.0.1``)."""
    from twisted.internet.endpoints import serverFromString

    d = serverFromString(switch.reactor, description).listen(site(switch))

    def listening(port: Any) -> Any:
        switch.stop_hooks.append(port.stopListening)
        return port

    return d.addCallback(listening)
