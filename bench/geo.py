"""The country and AS data: our reader of geoip2fast's data file against geoip2fast's own lookup.

    .venv/bin/python -m bench.geo

Each way in a fresh process (``python -I``), one after the other:

* **ours** (``tracking.ingest.enrich.geo``): the file read by a short-lived child process into typed
  arrays (``_geoip2fast_tables``, what the server does at start), looked up with
  ``CountryTable.country`` and ``AsTable.organisation``;
* **geoip2fast**: ``GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz")`` and its
  ``lookup(ip)`` (``country_code``, ``asn_name``), the package's public way.

Reported: the seconds to load, what loading adds to the process's resident memory (``VmRSS``)
and to its peak (``VmHWM``), lookups a second over 100,000 random public addresses (IPv4 and
IPv6, uncached: the application caches 4,096 addresses in front of either), whether the answers
agree, and the environment variables importing the package changes in the process. The modules are imported
before the memory and the time are first read: the figures are the data's.
"""

import json
import subprocess
import sys

PROGRAM = r"""
import ipaddress, json, os, random, sys, time

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

random.seed(11)
addresses = []
while len(addresses) < 100_000:
    if random.random() < 0.7:
        address = ipaddress.IPv4Address(random.getrandbits(32))
    else:
        address = ipaddress.IPv6Address((0x2 << 124) | random.getrandbits(125))
    if address.is_global and not address.is_multicast and not address.is_reserved:
        addresses.append(address)
texts = [str(a) for a in addresses]
environ = dict(os.environ)
if sys.argv[1] == "ours":
    from tracking.ingest.enrich import geo
else:
    import re
    from geoip2fast import GeoIP2Fast
changed = sorted(k for k in os.environ if environ.get(k) != os.environ[k])
rss, peak = status("VmRSS"), status("VmHWM")  # the modules imported: the data alone from here
started = time.perf_counter()
if sys.argv[1] == "ours":
    countries, systems = geo._geoip2fast_tables()
    lookup = lambda i: (countries.country(addresses[i]), systems.organisation(addresses[i]))
else:
    data = GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz")
    code = re.compile("[A-Z]{2}")  # "--": not found, as ours says ""
    lookup = lambda i: data.lookup(texts[i])
loaded = time.perf_counter() - started
grown, peaked = status("VmRSS") - rss, status("VmHWM") - peak  # before any lookup
started = time.perf_counter()
answers = [lookup(i) for i in range(len(addresses))]
rate = len(addresses) / (time.perf_counter() - started)
if sys.argv[1] != "ours":  # comparable answers, and whether the address is in the network named
    answers = [
        (found.country_code if code.fullmatch(found.country_code) else "", found.asn_name or "",
         bool(found.asn_cidr) and address in ipaddress.ip_network(found.asn_cidr, strict=False))
        for found, address in zip(answers, addresses)
    ]
print(json.dumps({"load": loaded, "rss": grown, "peak": peaked, "rate": rate,
                  "answers": answers, "environ": changed}))
"""


def run(way: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROGRAM, way], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    results = {way: run(way) for way in ("ours", "geoip2fast")}
    for way, result in results.items():
        print(
            f"{way:10}: load {result['load']:.2f} s, resident memory +{result['rss']:.0f} MB "
            f"(peak +{result['peak']:.0f} MB), {result['rate']:,.0f} lookups/s, "
            f"environment changed: {', '.join(result['environ']) or 'nothing'}"
        )
    ours, theirs = results["ours"]["answers"], results["geoip2fast"]["answers"]
    pairs = list(zip(ours, theirs, strict=True))
    countries = sum(a[0] == b[0] for a, b in pairs)
    same = [a[1] == b[1] or (not a[1] and b[1] in ("<unknown>", "IANA.ORG")) for a, b in pairs]
    outside = sum(1 for (a, b), equal in zip(pairs, same, strict=True) if not equal and not a[1] and not b[2])
    print(
        f"the same country for {countries:,} of {len(ours):,} addresses, the same organisation for {sum(same):,}; "
        f"of the {len(ours) - sum(same):,} others, {outside:,} are addresses outside the network geoip2fast names "
        f"(its asn_cidr: the previous network's), for which ours names none"
    )


if __name__ == "__main__":
    main()
