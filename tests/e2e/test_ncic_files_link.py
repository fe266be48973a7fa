"""Every NCIC file local agencies enter, over a real link: two terminals on TCP through the
switch to the in-process NCIC (enter, hit with the file's header and caveat, modify, locate with
the owner's $.L. notice, a protective interest hit's $.H. to the owner, clear or cancel, and the
owner-only rule)."""

from __future__ import annotations

import re

from ncic_cases import LOCAL
from support import demo_lab, running_switch, signed_on, wait
from test_endpoints import drain_until, fast

from lems.endpoints.ncic_files import by_name

OWN, OTHER = "OR0240000", "OR0260000"


async def test_every_local_file_over_the_link(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        t4 = await signed_on(switch, reactor, "T04")
        for file, (enter, query, modify, cancel, clear, locate) in LOCAL.items():
            f = by_name(file)
            acc = await wait(t1.request(enter.format(o=OWN)))
            assert acc.key == "ACC", (file, acc.body)
            nic = re.search(r"NIC/([A-Z]\d{9})", acc.body).group(1)
            assert nic[0] == f.letter
            dup = await wait(t1.request(enter.format(o=OWN)))
            assert dup.key == "REJ" and "REJECT ON FILE" in dup.body, (file, dup.body)
            hit = await wait(t4.request(query.format(o=OTHER)))
            assert hit.key == "HIT" and f"MKE/{f.words}" in hit.body, (file, hit.body)
            assert f"NIC/{nic}" in hit.body
            # DTE/ in the lab's time zone (the demo lab: America/Los_Angeles)
            assert re.search(rf"NIC/{nic} DTE/\d{{8}} \d{{4}} P[SD]T", hit.body), hit.body
            if f.caveat:
                assert f.caveat[0][:30] in hit.body.replace("\n", " ")
            if f.inquiry_notice:  # the owner hears of the other agency's hit ($.H.)
                ntf = await drain_until(t1, "NTF")
                assert f"$.{f.inquiry_notice}." in ntf.body and nic in ntf.body
            rej = await wait(t4.request(modify.format(o=OTHER, n=nic)))
            assert rej.key == "REJ" and "NOT-OWNER" in rej.body, (file, rej.body)
            acc = await wait(t1.request(modify.format(o=OWN, n=nic)))
            assert acc.key == "ACC" and "MODIFIED" in acc.body, (file, acc.body)
            if locate:
                acc = await wait(t4.request(locate.format(o=OTHER, n=nic)))
                assert acc.key == "ACC" and "LOCATED" in acc.body, (file, acc.body)
                ntf = await drain_until(t1, "NTF")
                assert "$.L." in ntf.body and nic in ntf.body
            last = clear or cancel
            acc = await wait(t1.request(last.format(o=OWN, n=nic)))
            assert acc.key == "ACC", (file, acc.body)
            nrc = await wait(t4.request(query.format(o=OTHER)))
            assert nrc.key == "NRC", (file, nrc.body)
        t1.close()
        t4.close()
