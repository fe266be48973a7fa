from support import demo_lab, running_switch, signed_on, wait


async def test_sign_on_and_admin_message(tmp_path, reactor):
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        t4 = await signed_on(switch, reactor, "T04")
        t1.send("AM.OR0240000.OR0260000.TXT\nMEET AT THE COUNTY LINE")
        out = await wait(t4.next())
        assert out.key == "AM" and out.ori == "OR0240000"
        assert out.lines[-1] == "MEET AT THE COUNTY LINE"
        t1.close()
        t4.close()
