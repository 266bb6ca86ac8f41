-- tshark oracle for x400bridge tests: dissect raw BER values as X.400 P1 / P22.
--
--   tshark -r FILE -X lua_script:tests/oracles/ber.lua [-X lua_script1:p1|p22] -T json
--
-- Packets reach this dissector through the "wtap_encap" table:
--   * wtap_encaps.USER0 (pcap link type 147): the packet is one MTS-APDU  -> P1
--   * wtap_encaps.USER1 (pcap link type 148): the packet is one InformationObject -> P22
--   * wtap_encaps.USER2 (pcap link type 149): the packet is one ORName
--   * wtap_encaps.USER3 (pcap link type 150): the packet is one ORAddress
--   * wtap_encaps.BER   (a raw BER file opened directly): P1 or P22 as chosen by the script
--     argument (lua_script1:p1|p22|orname|oraddress; default p1).
-- tests/oracle.py writes pcap files with link type 147/148 (one packet per BER value).
-- P1 is reached through the "ber.syntax" table entry "P1 Message" registered by packet-p1.c
-- (dissect_p1_mts_apdu_PDU); P22 through the "p22" dissector (InformationObject).

local args = { ... }
local default_kind = args[1] or "p1"

local p1_syntax = "P1 Message"
local ber_syntax = DissectorTable.get("ber.syntax")
local ber_oid = DissectorTable.get("ber.oid")
local p22 = Dissector.get("p22")

-- ORName / ORAddress are reached through X.402 directory attributes whose syntax they are:
-- id-at-mhs-dl-members (2.6.5.2.3) WITH SYNTAX ORName, id-at-mhs-or-addresses (2.6.5.2.6)
-- WITH SYNTAX ORAddress; packet-p1.c registers both in "ber.oid".
local oid_kinds = { orname = "2.6.5.2.3", oraddress = "2.6.5.2.6" }

local function dissect_kind(kind, tvb, pinfo, tree)
    if kind == "p22" then
        return p22:call(tvb, pinfo, tree)
    end
    if oid_kinds[kind] then
        return ber_oid:try(oid_kinds[kind], tvb, pinfo, tree)
    end
    return ber_syntax:try(p1_syntax, tvb, pinfo, tree)
end

local function make(name, kind)
    local proto = Proto(name, "x400bridge raw BER (" .. (kind or "script argument") .. ")")
    function proto.dissector(tvb, pinfo, tree)
        pinfo.cols.protocol = "BER"
        -- (the BER-syntax dissectors report the whole buffer as used, so trailing bytes after
        -- the value are not detected here: tests/oracle.py checks that itself)
        return dissect_kind(kind or default_kind, tvb, pinfo, tree)
    end
    return proto
end

local encap = DissectorTable.get("wtap_encap")
encap:add(wtap_encaps.USER0, make("x400ber_p1", "p1"))
encap:add(wtap_encaps.USER1, make("x400ber_p22", "p22"))
encap:add(wtap_encaps.USER2, make("x400ber_orname", "orname"))
encap:add(wtap_encaps.USER3, make("x400ber_oraddress", "oraddress"))
encap:add(wtap_encaps.BER, make("x400ber_raw", nil))
