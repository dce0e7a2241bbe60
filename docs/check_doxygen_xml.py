#!/usr/bin/env python3
"""Fail when Doxygen's XML output holds an undocumented public symbol.

Doxygen's own WARN_IF_UNDOCUMENTED misses enum values (and members of
anonymous nested structs), so this walks the XML it generated and requires a
brief or detailed description on every struct/union, struct member, function,
typedef, enum, enum value, variable and macro of the public headers.
Usage: check_doxygen_xml.py XML_DIR
"""
import os
import sys
import xml.etree.ElementTree as ET


def described(node):
    for tag in ("briefdescription", "detaileddescription"):
        d = node.find(tag)
        if d is not None and "".join(d.itertext()).strip():
            return True
    return False


def where(node):
    loc = node.find("location")
    if loc is None:
        return "?"
    return "%s:%s" % (loc.get("file"), loc.get("line"))


def main(xml_dir):
    missing = []
    seen = 0
    for name in sorted(os.listdir(xml_dir)):
        if not name.endswith(".xml") or name in ("index.xml", "Doxyfile.xml"):
            continue
        root = ET.parse(os.path.join(xml_dir, name)).getroot()
        for comp in root.iter("compounddef"):
            kind = comp.get("kind")
            if kind not in ("file", "struct", "union"):
                continue
            cname = comp.findtext("compoundname")
            seen += 1
            if kind != "file" and not described(comp):
                missing.append("%s: %s %s" % (where(comp), kind, cname))
            for m in comp.iter("memberdef"):
                seen += 1
                mname = m.findtext("name")
                if not described(m):
                    missing.append("%s: %s %s::%s" % (where(m), m.get("kind"), cname, mname))
                for v in m.iter("enumvalue"):
                    seen += 1
                    if not described(v):
                        missing.append("%s: enum value %s" % (where(m), v.findtext("name")))
    if seen == 0:
        print("check_doxygen_xml: no symbols found in %s" % xml_dir, file=sys.stderr)
        return 1
    for line in sorted(set(missing)):
        print("undocumented: " + line, file=sys.stderr)
    if missing:
        print("check_doxygen_xml: %d undocumented symbol(s)" % len(set(missing)), file=sys.stderr)
        return 1
    print("check_doxygen_xml: %d symbols, all documented" % seen)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
