"""Transactions of the NCIC files local agencies enter, shared by the endpoint unit tests and
the end-to-end test over a real link. ``{o}`` is the sending ORI, ``{n}`` the record's NIC."""

from __future__ import annotations

# file: (entry, inquiry, modify, cancel, clear or None, locate or None)
LOCAL: dict[str, tuple[str, str, str, str, str | None, str | None]] = {
    "gang": (
        "EGM.{o}.NAM/GREY,ALAN.SEX/M.RAC/W.OCA/G1.DOB/19900101.GNG/RIVER ROAD CREW.ECR/A",
        "QW.{o}.NAM/GREY,ALAN.DOB/19900101",
        "MGM.{o}.NAM/GREY,ALAN.NIC/{n}.WGT/181",
        "XGM.{o}.NAM/GREY,ALAN.NIC/{n}",
        None,
        None,
    ),
    "sor": (
        "EXS.{o}.NAM/HALE,BRUNO.SEX/M.RAC/W.OCA/X1.DOB/19700202.OFF/1198",
        "QW.{o}.NAM/HALE,BRUNO.DOB/19700202",
        "MXS.{o}.NAM/HALE,BRUNO.NIC/{n}.WGT/182",
        "XXS.{o}.NAM/HALE,BRUNO.NIC/{n}",
        "CXS.{o}.NAM/HALE,BRUNO.NIC/{n}.DCL/20261123",
        None,
    ),
    "supervised": (
        "ESR.{o}.NAM/IVES,CORA.SEX/F.RAC/W.OCA/C1.DOB/19880303.EXP/20291231",
        "QW.{o}.NAM/IVES,CORA.DOB/19880303",
        "MSR.{o}.NAM/IVES,CORA.NIC/{n}.WGT/133",
        "XSR.{o}.NAM/IVES,CORA.NIC/{n}",
        "CSR.{o}.NAM/IVES,CORA.NIC/{n}.DCL/20261123",
        None,
    ),
    "protective": (
        "EPI.{o}.NAM/JUDD,DEAN.SEX/M.RAC/W.OCA/K1.DOB/19660404",
        "QW.{o}.NAM/JUDD,DEAN.DOB/19660404",
        "MPI.{o}.NAM/JUDD,DEAN.NIC/{n}.WGT/184",
        "XPI.{o}.NAM/JUDD,DEAN.NIC/{n}",
        None,
        None,
    ),
    "identity": (
        "EID.{o}.NAM/KERR,ELLA.SEX/F.RAC/W.OCA/J1.DOB/19920505.PWD/BLUEJAY.DOT/20261001",
        "QW.{o}.NAM/KERR,ELLA.DOB/19920505",
        "MID.{o}.NAM/KERR,ELLA.NIC/{n}.WGT/135",
        "XID.{o}.NAM/KERR,ELLA.NIC/{n}",
        None,
        None,
    ),
    "violent": (
        "EVP.{o}.NAM/LOWE,FRED.SEX/M.RAC/W.OCA/N1.DOB/19750606.VPC/2",
        "QW.{o}.NAM/LOWE,FRED.DOB/19750606",
        "MVP.{o}.NAM/LOWE,FRED.NIC/{n}.WGT/186",
        "XVP.{o}.NAM/LOWE,FRED.NIC/{n}",
        None,
        None,
    ),
    "plate": (
        "EL.{o}.LIC/7ABC123.LIS/OR.LIY/2027.LIT/PC.DOT/20261101.OCA/L1",
        "QV.{o}.LIC/7ABC123",
        "ML.{o}.NIC/{n}.MIS/REAR PLATE ONLY",
        "XL.{o}.NIC/{n}",
        "CL.{o}.NIC/{n}.DCL/20261123",
        "LL.{o}.NIC/{n}.DOL/20261123",
    ),
    "part": (
        "EP.{o}.SER/1HGCM82633A009999.CAT/TN.DOT/20261101.OCA/P1",
        "QV.{o}.VIN/1HGCM82633A009999",
        "MP.{o}.NIC/{n}.BRA/AIRT",
        "XP.{o}.NIC/{n}",
        "CP.{o}.NIC/{n}.DCL/20261123",
        "LP.{o}.NIC/{n}.DOL/20261123",
    ),
    "security": (
        "ES.{o}.TYP/BD.SER/SB1234567.DEN/100.DOT/20261101.OCA/S1",
        "QS.{o}.SER/SB1234567",
        "MS.{o}.NIC/{n}.ISS/CITY OF JUNIPER",
        "XS.{o}.NIC/{n}",
        "CS.{o}.NIC/{n}.DCL/20261123",
        "LS.{o}.NIC/{n}.DOL/20261123",
    ),
}
